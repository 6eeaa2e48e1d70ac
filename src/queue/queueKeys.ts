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
