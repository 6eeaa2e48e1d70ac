import { hostname } from 'node:os'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import {
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from './QueueOptions.js'

/** Options of `startComfyWorker(options)`. */
export interface ComfyWorkerOptions extends QueueOptions {
  /** The pods this worker runs jobs on: the same on every worker of the fleet. */
  readonly pods: readonly string[]
  /**
   * Options of the pods. Every worker has clientIds of its own, and each pod a cost model shared
   * with the fleet: `clientId` and `costModel` are not among them.
   * @default {}
   */
  readonly podOptions?: Omit<ComfyPodOptions, 'clientId' | 'costModel'>
  /**
   * Jobs on one pod at a time (running or in its queue). The fleet runs at most this many per
   * pod in all (BullMQ's global concurrency, set by each worker to `pods.length` times this).
   * @default 2
   */
  readonly concurrencyPerPod?: number
  /**
   * How long a worker's lease on a job lasts without renewal (renewed at half of it): a worker
   * that dies loses its jobs to another after at most this, plus `stalledIntervalMs`.
   * @default 10000
   */
  readonly lockDurationMs?: number
  /**
   * How often a worker looks for jobs whose lease expired, to take them over.
   * @default 5000
   */
  readonly stalledIntervalMs?: number
  /**
   * How many times a job may be taken over from a dead worker before BullMQ fails it
   * (`ComfyQueueError` `stalled`): a job that kills every worker that takes it stops there.
   * @default 5
   */
  readonly maxStalledCount?: number
  /**
   * The worker's name in BullMQ (each job's `processedBy`, dashboards).
   * @default `${hostname}:${pid}`
   */
  readonly workerName?: string
  /**
   * Where the analytics events of the pods and jobs go.
   * @default noopAnalyticsSink
   */
  readonly analytics?: AnalyticsSink
}

/** @internal The worker's options with every default applied. */
export interface ResolvedWorkerOptions extends ResolvedQueueOptions {
  readonly pods: readonly string[]
  readonly podOptions: Omit<ComfyPodOptions, 'clientId' | 'costModel'>
  readonly concurrencyPerPod: number
  readonly lockDurationMs: number
  readonly stalledIntervalMs: number
  readonly maxStalledCount: number
  readonly workerName: string
  readonly analytics: AnalyticsSink | undefined
}

/**
 * @internal Applies the defaults and checks the options (the pods check their URLs and options).
 * @throws TypeError naming the first invalid one
 */
export function resolveWorkerOptions(options: ComfyWorkerOptions): ResolvedWorkerOptions {
  const queueOptions = resolveQueueOptions(options)
  const {
    pods,
    podOptions = {},
    concurrencyPerPod = 2,
    lockDurationMs = 10_000,
    stalledIntervalMs = 5_000,
    maxStalledCount = 5,
    workerName = `${hostname()}:${process.pid}`,
    analytics,
  } = options
  if (!Array.isArray(pods) || pods.length === 0 || pods.some((pod) => typeof pod !== 'string'))
    invalid('pods', pods, 'a non-empty array of URLs')
  if (typeof podOptions !== 'object' || podOptions === null)
    invalid('podOptions', podOptions, 'an object')
  if ('clientId' in podOptions)
    invalid('podOptions.clientId', podOptions.clientId, 'absent (each worker has its own)')
  if ('costModel' in podOptions)
    invalid('podOptions.costModel', '(a CostModel)', "absent (each pod's is shared with the fleet)")
  if (!Number.isInteger(concurrencyPerPod) || concurrencyPerPod < 1)
    invalid('concurrencyPerPod', concurrencyPerPod, 'an integer >= 1')
  positive('lockDurationMs', lockDurationMs)
  positive('stalledIntervalMs', stalledIntervalMs)
  if (!Number.isInteger(maxStalledCount) || maxStalledCount < 0)
    invalid('maxStalledCount', maxStalledCount, 'an integer >= 0')
  if (typeof workerName !== 'string' || workerName === '')
    invalid('workerName', workerName, 'a non-empty string')
  return {
    ...queueOptions,
    pods,
    podOptions,
    concurrencyPerPod,
    lockDurationMs,
    stalledIntervalMs,
    maxStalledCount,
    workerName,
    analytics,
  }
}
