import type { RunJobOptions } from '../runner/ComfyUIJobRunnerOptions.js'

/** The options of a queued job's run on its pod: those that can be stored as JSON. */
export type QueuedRunOptions = Pick<
  RunJobOptions,
  | 'timeoutMs'
  | 'queueTimeoutMs'
  | 'pollIntervalMs'
  | 'stallTimeoutMs'
  | 'progressThrottleMs'
  | 'restFallback'
  | 'extraData'
  | 'front'
  | 'previewMethod'
  | 'jobType'
>

/**
 * Options of `queue.add(workflow, options)`: the run's (its `timeoutMs` counts from each attempt's
 * start), and the queue's.
 */
export interface QueueJobOptions extends QueuedRunOptions {
  /**
   * The job's id, which makes `add` idempotent: adding a job id again gives the job already
   * there. No ":" and not only digits (BullMQ's rules).
   * @default the promptId
   */
  readonly jobId?: string
  /**
   * The prompt's id on its pod (a UUID), the same on every attempt.
   * @default a random UUID
   */
  readonly promptId?: string
  /**
   * Attempts at most. A job is tried again only after a failure a new attempt may overcome: the
   * pod lost the prompt (restart), could not be reached, or answered 5xx; never after a
   * validation error, a node's error, a timeout or a cancellation.
   * @default 3
   */
  readonly attempts?: number
  /**
   * Delay before the first retry, doubled at each one.
   * @default 1000
   */
  readonly backoffMs?: number
  /**
   * BullMQ priority: 1 is the highest; a job without one comes before those with one.
   * @default none
   */
  readonly priority?: number
}
