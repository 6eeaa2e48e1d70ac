import { randomUUID } from 'node:crypto'
import { Job, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { defer, filter, from, lastValueFrom, merge, type Observable, switchMap } from 'rxjs'
import { ComfyCancelledError } from '../errors/ComfyCancelledError.js'
import { ComfyQueueError } from '../errors/ComfyQueueError.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import { resolveExecution } from '../job/resolveExecution.js'
import type { Workflow } from '../job/Workflow.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { failedUpdate, mapJobEvent } from '../progress/toProgressUpdate.js'
import { toProgressUpdates } from '../progress/toProgressUpdates.js'
import { RedisProgressStore } from '../store/RedisProgressStore.js'
import { watchProgress$ } from '../store/watchProgress.js'
import { type ErrorRecord, recordError, reviveError } from './ErrorRecord.js'
import type { QueuedJobData } from './QueuedJobData.js'
import type { QueueJobOptions, QueuedRunOptions } from './QueueJobOptions.js'
import { bullConnection } from './bullConnection.js'
import { cancelChannel, cancelledKey } from './queueKeys.js'
import {
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from './QueueOptions.js'

/** A job `queue.add` queued, or found already there (same `jobId`). */
export interface QueuedJob {
  readonly jobId: string
  /** The prompt's id on the pod that will run it, known before any pod sees it. */
  readonly promptId: string
}

/** Options of `new ComfyJobQueue(options)`. */
export type ComfyJobQueueOptions = QueueOptions

/** The states of a job no worker has. */
const WAITING = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children'])

/** What a cancelled job leaves behind (`cancelledKey`). */
interface CancelMark {
  readonly promptId: string
  /** Set when the job was removed before a worker took it: its end. */
  readonly error?: ErrorRecord
}

/**
 * The producer side of a fleet of backend instances on BullMQ: adds jobs, streams their progress
 * and gives their results, on any instance, whichever worker (`startComfyWorker`) runs them —
 * also after that worker died and another took the job over.
 *
 * Jobs and their leases are BullMQ's; their progress goes through a `RedisProgressStore` on the
 * same Redis (the one progress mechanism of the library, which `watchProgress$` and the SSE
 * helpers read).
 *
 * In the `comfyui-rx/queue` entry point: bullmq and ioredis are optional peer dependencies.
 *
 * @example
 * ```ts
 * import { ComfyJobQueue } from 'comfyui-rx/queue'
 *
 * const queue = new ComfyJobQueue({ connection: 'redis://127.0.0.1:6379' })
 * const { jobId } = await queue.add(workflow, { jobId: 'order-42' })
 * queue.events$(jobId).subscribe((update) => console.log(update.status, update.progress))
 * const result = await queue.result(jobId) // queued 0, processing 40, …, completed 100
 * console.log(result.images[0]?.filename)
 * await queue.close()
 * ```
 */
export class ComfyJobQueue {
  private readonly options: ResolvedQueueOptions
  private readonly queue: Queue<QueuedJobData, ComfyUIJobResult>
  private readonly redis: Redis
  private readonly store: RedisProgressStore
  private closing: Promise<void> | undefined

  /**
   * @param options - see `QueueOptions`
   * @throws TypeError for an invalid option
   */
  constructor(options: ComfyJobQueueOptions) {
    this.options = resolveQueueOptions(options)
    const { redisOptions, name, prefix, storeOptions } = this.options
    this.queue = new Queue(name, { connection: bullConnection(redisOptions), prefix })
    // BullMQ reports its connection's errors here; they are retried by ioredis.
    this.queue.on('error', () => {})
    this.redis = new Redis(redisOptions)
    this.redis.on('error', () => {})
    this.store = new RedisProgressStore(redisOptions, storeOptions)
  }

  /**
   * Queues a workflow, once: a `jobId` already in the queue gives that job back.
   *
   * @param workflow - an API-format workflow
   * @param options - see `QueueJobOptions`
   * @returns the job's id and its promptId; rejects when Redis cannot be reached
   * @throws TypeError for an invalid workflow or option (nothing is queued)
   */
  async add(workflow: Workflow, options: QueueJobOptions = {}): Promise<QueuedJob> {
    const { jobId: givenJobId, attempts = 3, backoffMs = 1000, priority, ...runOptions } = options
    const checked = resolveExecution(workflow, runOptions)
    const promptId = checked.promptId ?? randomUUID()
    const jobId = givenJobId ?? promptId
    assertJobId(jobId)
    if (!Number.isInteger(attempts) || attempts < 1)
      invalid('attempts', attempts, 'an integer >= 1')
    positive('backoffMs', backoffMs)
    if (priority !== undefined && (!Number.isInteger(priority) || priority < 1))
      invalid('priority', priority, 'an integer >= 1')
    const stored: QueuedRunOptions & { promptId?: string } = { ...runOptions }
    delete stored.promptId
    const keep = { age: Math.ceil(this.options.keepJobsMs / 1000) }
    const job = await this.queue.add(
      'workflow',
      { workflow, options: stored, promptId },
      {
        jobId,
        attempts,
        backoff: { type: 'exponential', delay: backoffMs },
        ...(priority === undefined ? {} : { priority }),
        removeOnComplete: keep,
        removeOnFail: keep,
      },
    )
    // Added before, under this jobId: its own promptId, and its own state (maybe ended, and
    // forgotten by the store: a `queued` update would then stand for its end).
    const existing = givenJobId === undefined ? undefined : await this.data(jobId)
    const queued = existing?.promptId ?? promptId
    // A worker that took it at once has published further: this is then superseded.
    if (existing === undefined || WAITING.has(await job.getState()))
      await this.store.save({ promptId: queued, status: 'queued', progress: 0 })
    return { jobId: job.id ?? jobId, promptId: queued }
  }

  /**
   * A job's progress, from any instance: its latest state at once, then each change, never
   * backwards, ending with its final update (`completed` or `failed`) — also when the worker
   * running it died and another took it over.
   *
   * @returns the updates; `ComfyQueueError` (`not_found`) for an unknown job
   */
  events$(jobId: string): Observable<ProgressUpdate> {
    return defer(() => from(this.promptIdOf(jobId))).pipe(
      switchMap((promptId) =>
        merge(
          watchProgress$(this.store, promptId),
          // The store forgot it (its TTL is shorter than BullMQ's retention): from BullMQ.
          defer(() => from(this.endIfForgotten(jobId, promptId))).pipe(
            filter((update): update is ProgressUpdate => update !== undefined),
          ),
        ).pipe(toProgressUpdates({ promptId })),
      ),
    )
  }

  /**
   * A job's latest update, from any instance: to answer 404 for an unknown job before streaming
   * `events$`, or to show where a job stands without following it.
   *
   * @returns the update (`queued` for a job no worker took yet), or undefined for an unknown job;
   *   rejects when Redis cannot be reached
   */
  async latest(jobId: string): Promise<ProgressUpdate | undefined> {
    let promptId: string
    try {
      promptId = await this.promptIdOf(jobId)
    } catch (error) {
      if (error instanceof ComfyQueueError) return undefined
      throw error
    }
    return (
      (await this.store.latest(promptId)) ??
      (await this.endIfForgotten(jobId, promptId)) ?? { promptId, status: 'queued', progress: 0 }
    )
  }

  /**
   * A job's result, once it ended, from any instance.
   *
   * @returns the result; rejects with the job's error, of its class (`ComfyValidationError`,
   *   `ComfyExecutionError`, `ComfyCancelledError`, …), or `ComfyQueueError`
   */
  async result(jobId: string): Promise<ComfyUIJobResult> {
    const final = await lastValueFrom(this.events$(jobId))
    if (final.status === 'completed') return this.returnValue(jobId)
    throw await this.failure(jobId, final)
  }

  /**
   * Cancels a job from any instance: a job no worker took yet is removed, a running one is
   * cancelled on its pod by the worker that runs it (or, if that worker died, by the one that
   * takes it over). Its `events$` end with a `failed` update, its `result` with
   * `ComfyCancelledError`.
   *
   * @returns whether the job was still to end; rejects when Redis cannot be reached
   */
  async cancel(jobId: string): Promise<boolean> {
    const job = await Job.fromId<QueuedJobData>(this.queue, jobId)
    const state = job === undefined ? undefined : await job.getState()
    if (job === undefined || state === 'completed' || state === 'failed') return false
    const { promptId } = job.data
    const key = cancelledKey(this.options, jobId)
    const ttl = this.options.keepJobsMs
    await this.redis.set(key, JSON.stringify({ promptId } satisfies CancelMark), 'PX', ttl)
    // Only a job no worker has: an active one's prompt may run on its pod, which its worker (or
    // the one taking it over from a dead one, finding the mark) cancels there. BullMQ refuses to
    // remove a job a worker took meanwhile.
    const removed = WAITING.has(state!) && (await this.queue.remove(jobId).catch(() => 0)) === 1
    if (removed) {
      const error = new ComfyCancelledError(promptId, 'pending')
      const mark: CancelMark = { promptId, error: recordError(error) }
      await this.redis.set(key, JSON.stringify(mark), 'PX', ttl)
      const latest = await this.store.latest(promptId).catch(() => undefined)
      await this.store.save(failedUpdate(error, latest, { ...this.options.updates, promptId }))
    } else {
      await this.redis.publish(cancelChannel(this.options), jobId)
    }
    return true
  }

  /** Closes the queue's connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([
      this.queue.close(),
      this.store.close(),
      this.redis.quit().catch(() => this.redis.disconnect()),
    ]).then(() => undefined)
    return this.closing
  }

  private async data(jobId: string): Promise<QueuedJobData | undefined> {
    return (await Job.fromId<QueuedJobData>(this.queue, jobId))?.data
  }

  private async cancelMark(jobId: string): Promise<CancelMark | undefined> {
    const text = await this.redis.get(cancelledKey(this.options, jobId))
    return text === null ? undefined : (JSON.parse(text) as CancelMark)
  }

  private async promptIdOf(jobId: string): Promise<string> {
    assertJobId(jobId)
    const promptId = (await this.data(jobId))?.promptId ?? (await this.cancelMark(jobId))?.promptId
    if (promptId === undefined)
      throw new ComfyQueueError(`no job ${jobId} in queue ${this.options.name}`, jobId, 'not_found')
    return promptId
  }

  /** The final update of an ended job the store no longer has; undefined otherwise. */
  private async endIfForgotten(
    jobId: string,
    promptId: string,
  ): Promise<ProgressUpdate | undefined> {
    if ((await this.store.latest(promptId).catch(() => ({}))) !== undefined) return undefined
    const job = await Job.fromId<QueuedJobData, ComfyUIJobResult>(this.queue, jobId)
    const options = this.options.updates
    if (job === undefined) {
      const error = (await this.cancelMark(jobId))?.error
      return error === undefined
        ? undefined
        : failedUpdate(reviveError(error), undefined, { ...options, promptId })
    }
    const state = await job.getState()
    if (state === 'completed')
      return mapJobEvent(
        { type: 'completed', promptId, result: job.returnvalue, source: job.returnvalue.method },
        options,
      )
    if (state === 'failed')
      return failedUpdate(this.errorOf(job), undefined, { ...options, promptId })
    return undefined
  }

  /** A completed job's result: BullMQ records it just after its final update. */
  private async returnValue(jobId: string): Promise<ComfyUIJobResult> {
    // Its worker saved the final update first, and BullMQ records the end a round trip later.
    for (let wait = 1; ; wait = Math.min(wait * 2, 1000)) {
      const job = await Job.fromId<QueuedJobData, ComfyUIJobResult>(this.queue, jobId)
      if (job === undefined)
        throw new ComfyQueueError(`job ${jobId} is no longer kept`, jobId, 'not_found')
      // Read in one go with its data: a returnvalue is there once the job completed.
      if (job.finishedOn !== undefined && job.returnvalue !== null) return job.returnvalue
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  /** A failed job's error, of its class, from the record its worker left (or its update). */
  private async failure(jobId: string, final: ProgressUpdate): Promise<Error> {
    const job = await Job.fromId<QueuedJobData, ComfyUIJobResult>(this.queue, jobId)
    if (job !== undefined && (job.data.error !== undefined || job.failedReason !== undefined))
      return this.errorOf(job)
    const mark = await this.cancelMark(jobId)
    if (mark?.error !== undefined) return reviveError(mark.error)
    return reviveError({
      name: final.errorName ?? 'ComfyError',
      message: final.message ?? '',
      fields: {},
    })
  }

  private errorOf(job: Job<QueuedJobData, ComfyUIJobResult>): Error {
    if (job.data.error !== undefined) return reviveError(job.data.error)
    const jobId = job.id ?? ''
    const reason = job.failedReason ?? 'failed'
    return new ComfyQueueError(
      `job ${jobId} failed in its worker: ${reason}`,
      jobId,
      /stalled/.test(reason) ? 'stalled' : 'worker_error',
    )
  }
}

/** @internal Throws the `TypeError` of a job id BullMQ would not take. */
export function assertJobId(jobId: unknown): asserts jobId is string {
  if (typeof jobId !== 'string' || jobId === '' || jobId.includes(':') || /^\d+$/.test(jobId))
    invalid('jobId', jobId, 'a non-empty string, without ":", not only digits')
}
