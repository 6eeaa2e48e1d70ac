import type { RedisOptions } from 'ioredis'
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { invalid, positive } from '../internal/optionChecks.js'

/** Options of `new RedisProgressStore(url, options)`. */
export interface RedisProgressStoreOptions {
  /**
   * How long a prompt's latest update is kept after its last change (the key's TTL, renewed by
   * each update): long enough for a browser to come back to a finished job, short enough that
   * Redis forgets old prompts by itself.
   * @default 3600000 (1 hour)
   */
  readonly ttlMs?: number
  /**
   * Prefix of every key and channel, to share a Redis with other programs.
   * @default 'comfyui-rx:'
   */
  readonly keyPrefix?: string
  /**
   * Writes that may wait (for the one of their key under way, or for the reconnection while Redis
   * is down): at most one per key, the latest. Beyond, the oldest is dropped with a diagnostic.
   * @default 10000
   */
  readonly maxPendingWrites?: number
  /**
   * How long a read (`latest`) waits for the connection before it fails with
   * `ComfyStoreError`; a store just created, or reconnecting, is not ready at once.
   * @default 5000
   */
  readonly readyTimeoutMs?: number
  /**
   * ioredis options (TLS, password, `retryStrategy`, `connectTimeout`, …). The store sets
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands:
   * false` over them: commands fail at once while Redis is down instead of piling up in ioredis,
   * and the store keeps, bounded, what is worth writing later. `replyMapping` is ignored.
   * @default {}
   */
  readonly redisOptions?: RedisOptions
  /**
   * Scheduler of the wait for the connection.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

/** @internal The options with every default applied. */
export type ResolvedRedisProgressStoreOptions = Required<RedisProgressStoreOptions>

/**
 * @internal Applies the defaults, and validates the URL and every option; throws a `TypeError`
 * naming the first invalid one.
 */
export function resolveRedisProgressStoreOptions(
  connection: unknown,
  options: RedisProgressStoreOptions,
): ResolvedRedisProgressStoreOptions {
  const {
    ttlMs = 3_600_000,
    keyPrefix = 'comfyui-rx:',
    maxPendingWrites = 10_000,
    readyTimeoutMs = 5_000,
    redisOptions = {},
    scheduler = asyncScheduler,
  } = options
  if (typeof connection === 'string' ? !/^rediss?:\/\//.test(connection) : !isObject(connection))
    invalid(
      'connection',
      typeof connection === 'string' ? '(not a redis:// URL)' : connection,
      'a redis:// URL or ioredis options',
    )
  positive('ttlMs', ttlMs)
  if (typeof keyPrefix !== 'string') invalid('keyPrefix', keyPrefix, 'a string')
  if (!Number.isInteger(maxPendingWrites) || maxPendingWrites < 1)
    invalid('maxPendingWrites', maxPendingWrites, 'an integer >= 1')
  positive('readyTimeoutMs', readyTimeoutMs)
  if (!isObject(redisOptions)) invalid('redisOptions', redisOptions, 'an object')
  return {
    ttlMs,
    keyPrefix,
    maxPendingWrites,
    readyTimeoutMs,
    redisOptions,
    scheduler,
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}
