import type { ResolvedQueueOptions } from './QueueOptions.js'

type Names = Pick<ResolvedQueueOptions, 'prefix' | 'name'>

/** @internal The key that marks a job as cancelled: its promptId, for as long as BullMQ keeps jobs. */
export function cancelledKey({ prefix, name }: Names, jobId: string): string {
  return `${prefix}:${name}:comfyui-rx:cancelled:${jobId}`
}

/** @internal The channel on which cancellations reach the worker running the job. */
export function cancelChannel({ prefix, name }: Names): string {
  return `${prefix}:${name}:comfyui-rx:cancel`
}

/**
 * @internal The key of the one worker that follows, over the socket, the prompts a dead worker
 * left on a pod under its clientId (a pod keeps one socket per clientId).
 */
export function adoptionKey({ prefix, name }: Names, podUrl: string, clientId: string): string {
  return `${prefix}:${name}:comfyui-rx:adopted:${clientId}:${podUrl}`
}
