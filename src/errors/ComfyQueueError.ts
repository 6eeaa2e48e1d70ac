import { ComfyError } from './ComfyError.js'

/**
 * Why a queued job could not be found or run (`comfyui-rx/queue`):
 *
 * - `not_found`: no job has this id (never added, or removed after its retention);
 * - `stalled`: the workers that took it died more often than `maxStalledCount` allows, and
 *   BullMQ failed it;
 * - `worker_error`: it failed outside its run (the worker could not record it, …); `message`
 *   says how.
 */
export type ComfyQueueErrorReason = 'not_found' | 'stalled' | 'worker_error'

/**
 * A job of a `ComfyJobQueue` is unknown, or failed for a reason of the queue rather than of its
 * pod: see `reason`.
 *
 * @example
 * ```ts
 * import { ComfyQueueError } from 'comfyui-rx'
 *
 * await queue.result('no-such-job').catch((error) => {
 *   if (error instanceof ComfyQueueError) console.log(error.reason) // not_found
 * })
 * ```
 */
export class ComfyQueueError extends ComfyError {
  override readonly name = 'ComfyQueueError'

  constructor(
    message: string,
    readonly jobId: string,
    readonly reason: ComfyQueueErrorReason,
  ) {
    super(message)
  }
}
