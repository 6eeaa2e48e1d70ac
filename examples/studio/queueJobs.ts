import { ComfyJobQueue, startComfyWorker, type ComfyWorker } from '../../src/queue/index.js'
import type { ProgressUpdateOptions } from '../../src/progress/ProgressUpdateOptions.js'
import type { StudioJobs } from './StudioJobs.js'

/**
 * The studio's jobs on a BullMQ queue in Redis: any instance queues them and streams their
 * progress, any worker of the fleet runs them (this process's own, with `worker`), and a worker
 * that dies mid-job has its jobs taken over by another. A job's id is its promptId.
 */
export async function queueJobs(
  podUrl: string,
  redisUrl: string,
  options: {
    readonly progressThrottleMs: number
    readonly progressUpdateOptions: Omit<ProgressUpdateOptions, 'promptId'>
    readonly worker: boolean
  },
): Promise<StudioJobs> {
  const { progressThrottleMs, progressUpdateOptions } = options
  const queue = new ComfyJobQueue({ connection: redisUrl, progressUpdateOptions })
  let worker: ComfyWorker | undefined
  if (options.worker) {
    worker = startComfyWorker({ connection: redisUrl, pods: [podUrl], progressUpdateOptions })
    await worker.ready()
  }
  return {
    generate: async (workflow) => ({
      promptId: (await queue.add(workflow, { progressThrottleMs })).promptId,
    }),
    latest: (promptId) => queue.latest(promptId),
    updates$: (promptId) => queue.events$(promptId),
    close: async () => {
      await worker?.close()
      await queue.close()
    },
  }
}
