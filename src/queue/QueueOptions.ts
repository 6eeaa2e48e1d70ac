import { invalid, positive } from '../internal/optionChecks.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
  type ResolvedProgressUpdateOptions,
} from '../progress/ProgressUpdateOptions.js'
import type { RedisProgressStoreOptions } from '../store/RedisProgressStoreOptions.js'
import { type ConnectionSettings, type QueueConnection, redisOptionsOf } from './QueueConnection.js'

/** What the producer (`ComfyJobQueue`) and the workers (`startComfyWorker`) share. */
export interface QueueOptions {
  /** The Redis of the queue and of its progress. */
  readonly connection: QueueConnection
  /**
   * The BullMQ queue's name: producers and workers of one fleet use the same.
   * @default 'comfyui-rx'
   */
  readonly name?: string
  /**
   * BullMQ's key prefix.
   * @default 'bull'
   */
  readonly prefix?: string
  /**
   * Options of the progress store the jobs' progress goes through (a `RedisProgressStore` on the
   * same Redis; `keyPrefix` and `ttlMs` must be the same on every instance).
   * @default {}
   */
  readonly storeOptions?: Omit<RedisProgressStoreOptions, 'scheduler'>
  /**
   * Options of the progress updates (`imageUrl`, `failureMessage`).
   * @default {}
   */
  readonly progressUpdateOptions?: Omit<ProgressUpdateOptions, 'promptId'>
  /**
   * How long an ended job stays in BullMQ, for `result` and `events$`: long enough for every
   * client to come for its result, short enough that Redis does not fill up.
   * @default 86400000 (1 day)
   */
  readonly keepJobsMs?: number
}

/** @internal The shared options with every default applied. */
export interface ResolvedQueueOptions {
  readonly redisOptions: ConnectionSettings
  readonly name: string
  readonly prefix: string
  readonly storeOptions: Omit<RedisProgressStoreOptions, 'scheduler'>
  /** `progressUpdateOptions`, resolved once (a job's own promptId goes with each). */
  readonly updates: ResolvedProgressUpdateOptions
  readonly keepJobsMs: number
}

/**
 * @internal Applies the defaults and checks the options.
 * @throws TypeError naming the first invalid one
 */
export function resolveQueueOptions(options: QueueOptions): ResolvedQueueOptions {
  if (typeof options !== 'object' || options === null) invalid('options', options, 'an object')
  const {
    connection,
    name = 'comfyui-rx',
    prefix = 'bull',
    storeOptions = {},
    progressUpdateOptions = {},
    keepJobsMs = 86_400_000,
  } = options
  const redisOptions = redisOptionsOf(connection)
  for (const [option, value] of [
    ['name', name],
    ['prefix', prefix],
  ] as const) {
    if (typeof value !== 'string' || value === '' || value.includes(':'))
      invalid(option, value, 'a non-empty string without ":"')
  }
  if (typeof storeOptions !== 'object' || storeOptions === null)
    invalid('storeOptions', storeOptions, 'an object')
  const updates = resolveProgressUpdateOptions(progressUpdateOptions)
  positive('keepJobsMs', keepJobsMs)
  return { redisOptions, name, prefix, storeOptions, updates, keepJobsMs }
}
