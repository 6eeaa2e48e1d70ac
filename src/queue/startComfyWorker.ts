import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { Observable } from 'rxjs'
import { ComfyQueueError } from '../errors/ComfyQueueError.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import { CostModel } from '../job/CostModel.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { failedUpdate } from '../progress/toProgressUpdate.js'
import { ComfyUIJobRunner } from '../runner/ComfyUIJobRunner.js'
import type { RunnerPodStatus } from '../runner/RunnerPod.js'
import { RedisProgressStore } from '../store/RedisProgressStore.js'
import { shareCostModel } from '../store/shareCostModel.js'
import { AdoptedPods } from './AdoptedPods.js'
import { bullConnection } from './bullConnection.js'
import { type ComfyWorkerOptions, resolveWorkerOptions } from './ComfyWorkerOptions.js'
import { processQueuedJob } from './processQueuedJob.js'
import type { QueuedJobData } from './QueuedJobData.js'
import { cancelChannel } from './queueKeys.js'

/** A running worker (`startComfyWorker`). */
export interface ComfyWorker {
  /** Its pods' states, current ones first, then on every change. */
  readonly pods$: Observable<readonly RunnerPodStatus[]>
  /** Resolves once it takes jobs (connected, the fleet's cap set); rejects if it cannot. */
  ready(): Promise<void>
  /**
   * Stops taking jobs, lets those it runs end (their progress goes on, their results are
   * recorded), then closes its pods and connections. Idempotent.
   */
  close(): Promise<void>
}

/**
 * Starts a worker of a fleet on BullMQ: it takes the jobs of its queue (`ComfyJobQueue.add`, on
 * any instance) and runs each on the least-loaded of its pods, as `ComfyUIJobRunner` does,
 * publishing their progress for `queue.events$` on any instance.
 *
 * Its jobs are leased (BullMQ's locks, renewed while it lives). When it dies, another worker,
 * whatever its name, takes them over once their lease expired, and follows each prompt on the
 * pod it was sent to — live, under the clientId it was queued with — rather than generating it
 * again: the pod and clientId are recorded in the job before `POST /prompt`. A prompt is sent
 * again only when its pod never got it. What its pods' cost models learn (the expected time of each
 * node class, for progress and ETA) is shared with the fleet through the store, per pod.
 *
 * @example
 * ```ts
 * import { startComfyWorker } from 'comfyui-rx/queue'
 *
 * const worker = startComfyWorker({
 *   connection: process.env.REDIS_URL!,
 *   pods: ['http://gpu-1:8188', 'http://gpu-2:8188'],
 *   concurrencyPerPod: 2,
 * })
 * await worker.ready()
 * process.once('SIGTERM', () => void worker.close()) // drains: its jobs end first
 * ```
 * @param options - see `ComfyWorkerOptions`
 * @returns the worker, taking jobs as soon as it is connected
 * @throws TypeError for an invalid option or pod URL
 */
export function startComfyWorker(options: ComfyWorkerOptions): ComfyWorker {
  const resolved = resolveWorkerOptions(options)
  const { redisOptions, name, prefix, storeOptions, pods, podOptions, concurrencyPerPod } = resolved
  const own = pods.map((url) => ({
    url,
    pod: new ComfyPod(url, { ...podOptions, costModel: new CostModel() }),
  }))
  const runner = new ComfyUIJobRunner({
    pods: own.map(({ pod }) => pod),
    concurrencyPerPod,
    ...(resolved.analytics === undefined ? {} : { analytics: resolved.analytics }),
  })
  const store = new RedisProgressStore(redisOptions, storeOptions)
  // What each pod's cost model learns is the fleet's: a new worker starts with it.
  const sharing = Promise.all(
    own.map(({ pod }) => shareCostModel(store, pod.costModel, { key: `pod:${pod.url}` })),
  )
  sharing.catch(() => {})
  const redis = new Redis(redisOptions)
  const adopted = new AdoptedPods({
    pods: own,
    podOptions,
    redis,
    names: resolved,
    leaseMs: resolved.lockDurationMs,
  })
  const subscriber = new Redis(redisOptions)
  for (const connection of [redis, subscriber]) connection.on('error', () => {})
  const slots = pods.length * concurrencyPerPod
  const worker = new Worker<QueuedJobData, ComfyUIJobResult>(
    name,
    processQueuedJob({
      runner,
      adopted,
      store,
      redis,
      options: resolved,
      leaseMs: resolved.lockDurationMs,
    }),
    {
      connection: bullConnection(redisOptions),
      prefix,
      concurrency: slots,
      lockDuration: resolved.lockDurationMs,
      stalledInterval: resolved.stalledIntervalMs,
      maxStalledCount: resolved.maxStalledCount,
      name: resolved.workerName,
    },
  )
  // Connection errors: BullMQ and ioredis retry by themselves.
  worker.on('error', () => {})
  // A job failed without its processor (taken over too often): its watchers learn it here.
  worker.on('failed', (job, error) => {
    if (job === undefined || job.finishedOn === undefined || job.data.error !== undefined) return
    const jobId = job.id ?? ''
    const reason = /stalled/.test(error.message) ? 'stalled' : 'worker_error'
    const failure = new ComfyQueueError(`job ${jobId}: ${error.message}`, jobId, reason)
    const updates = { ...resolved.updates, promptId: job.data.promptId }
    void store.save(failedUpdate(failure, undefined, updates))
  })
  // Cancellations of jobs this worker runs (`queue.cancel` on any instance).
  subscriber.on('message', (_channel: string, jobId: string) => {
    worker.cancelJob(jobId, 'cancelled')
  })
  const subscribed = subscriber.subscribe(cancelChannel(resolved))
  const ready = (async () => {
    await Promise.all([worker.waitUntilReady(), subscribed, sharing])
    const queue = new Queue(name, { connection: bullConnection(redisOptions), prefix })
    try {
      await queue.setGlobalConcurrency(slots)
    } finally {
      await queue.close()
    }
  })()
  ready.catch(() => {})

  let closing: Promise<void> | undefined
  return {
    pods$: runner.pods$,
    ready: () => ready,
    close: () =>
      (closing ??= (async () => {
        await worker.close()
        for (const shared of await sharing.catch(() => [])) shared.unsubscribe()
        runner.close()
        adopted.close()
        for (const { pod } of own) pod.close()
        await Promise.all([store.close(), quit(redis), quit(subscriber)])
      })()),
  }
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit()
  } catch {
    redis.disconnect()
  }
}
