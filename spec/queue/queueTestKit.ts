import { Job, Queue } from 'bullmq'
import { lastValueFrom, toArray } from 'rxjs'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { ComfyJobQueue, startComfyWorker, type ComfyWorker } from '../../src/queue/index.js'
import type { ComfyWorkerOptions } from '../../src/queue/ComfyWorkerOptions.js'
import type { QueuedJobData } from '../../src/queue/QueuedJobData.js'

/** Something a test closes after itself. */
export interface Closable {
  close(): Promise<unknown> | void
}

/** What a queue test opens, closed in reverse order after it. */
export class Opened {
  private readonly resources: Closable[] = []

  add<T extends Closable>(resource: T): T {
    this.resources.push(resource)
    return resource
  }

  async closeAll(): Promise<void> {
    for (const resource of this.resources.splice(0).reverse()) await resource.close()
  }

  queue(redisUrl: string): ComfyJobQueue {
    return this.add(new ComfyJobQueue({ connection: redisUrl }))
  }

  /** A worker with its default options, taking jobs. */
  async worker(
    redisUrl: string,
    pods: readonly string[],
    options: Partial<ComfyWorkerOptions> = {},
  ): Promise<ComfyWorker> {
    const worker = this.add(startComfyWorker({ connection: redisUrl, pods, ...options }))
    await worker.ready()
    return worker
  }

  /** BullMQ's own view of the queue, to check what the library did there. */
  bull(redisUrl: string): Queue<QueuedJobData> {
    return this.add(new Queue<QueuedJobData>('comfyui-rx', { connection: { url: redisUrl } }))
  }
}

/** Every update of a job's `events$`, to its end. */
export function eventsOf(queue: ComfyJobQueue, jobId: string): Promise<ProgressUpdate[]> {
  return lastValueFrom(queue.events$(jobId).pipe(toArray()))
}

/** A job as BullMQ holds it. */
export async function bullJob(
  bull: Queue<QueuedJobData>,
  jobId: string,
): Promise<Job<QueuedJobData>> {
  const job = await Job.fromId<QueuedJobData>(bull, jobId)
  if (job === undefined) throw new Error(`no job ${jobId}`)
  return job
}
