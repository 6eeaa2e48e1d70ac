import { type Job, UnrecoverableError } from 'bullmq'
import type { Redis } from 'ioredis'
import {
  catchError,
  defer,
  filter,
  lastValueFrom,
  map,
  type Observable,
  tap,
  throwError,
} from 'rxjs'
import { ComfyCancelledError } from '../errors/ComfyCancelledError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { failedUpdate, mapJobEvent } from '../progress/toProgressUpdate.js'
import type { ComfyUIJobRunner } from '../runner/ComfyUIJobRunner.js'
import type { PromptTarget } from '../runner/ComfyUIJobRunnerOptions.js'
import type { ProgressStore } from '../store/ProgressStore.js'
import type { AdoptedPods } from './AdoptedPods.js'
import { recordError } from './ErrorRecord.js'
import { isRetryable } from './isRetryable.js'
import type { QueuedJobData } from './QueuedJobData.js'
import { cancelledKey } from './queueKeys.js'
import type { ResolvedQueueOptions } from './QueueOptions.js'
import { takeOver } from './takeOver.js'

/** What a worker's processor works with. */
export interface WorkerParts {
  readonly runner: ComfyUIJobRunner
  readonly adopted: AdoptedPods
  readonly store: ProgressStore
  /** Commands (the cancellation marks). */
  readonly redis: Redis
  readonly options: ResolvedQueueOptions
  /** How long a lease lasts without renewal (`lockDurationMs`). */
  readonly leaseMs: number
}

/**
 * A worker that lost a job's lease (it stalled past it, or Redis was away) while another took the
 * job over: it must neither send the prompt nor end the job.
 */
class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError'
}

/**
 * @internal The BullMQ processor of a worker: runs a queued job's prompt to its end, publishing
 * its progress, and answers its result.
 *
 * - A job with a recorded target (its prompt was sent, by this worker or one that died) is
 *   followed on that pod under the recorded clientId; it is sent again (same promptId) only when
 *   the pod never got it, or lost it before a new attempt (`takeOver`).
 * - Otherwise it goes to the least-loaded pod, its target recorded in the job before `POST
 *   /prompt`, and marked `submitted` once the pod took it.
 * - A cancelled job (`queue.cancel`) is cancelled on its pod (the signal BullMQ aborts, or the
 *   mark found when it starts).
 * - Its final update is saved before BullMQ ends the job, and its error recorded in the job;
 *   an error no new attempt can overcome is BullMQ's `UnrecoverableError`.
 */
export function processQueuedJob(
  parts: WorkerParts,
): (
  job: Job<QueuedJobData, ComfyUIJobResult>,
  token?: string,
  signal?: AbortSignal,
) => Promise<ComfyUIJobResult> {
  const { store, redis, options, leaseMs } = parts
  return async (job, token, signal) => {
    /** Renews the job's lease, or throws when another worker has it now. */
    const holdLease = async (): Promise<void> => {
      if (token !== undefined && (await job.extendLock(token, leaseMs)) !== 1)
        throw new LeaseLostError(`job ${job.id!} was taken over by another worker`)
    }
    const { promptId } = job.data
    const updates = { ...options.updates, promptId }
    let latest: ProgressUpdate | undefined
    try {
      if ((await redis.exists(cancelledKey(options, job.id!))) === 1)
        throw await cancelledOnPod(parts, job)
      const completed = await lastValueFrom(
        run$(parts, job, signal, holdLease).pipe(
          tap((event) => {
            const update = mapJobEvent(event, updates)
            if (update === undefined) return
            latest = update
            if (update.status !== 'completed') void store.save(update)
          }),
          filter((event) => event.type === 'completed'),
          map((event) => event.result),
        ),
      )
      // Saved before BullMQ completes the job: an instance killed in between leaves the job to
      // another, which finds the prompt done on its pod.
      if (latest !== undefined) await store.save(latest)
      return completed
    } catch (error) {
      const attempts = job.opts.attempts ?? 1
      const retried = isRetryable(error) && job.attemptsMade + 1 < attempts
      if (retried) throw asError(error)
      // The job's end is its owner's to record.
      if (
        !(await holdLease().then(
          () => true,
          () => false,
        ))
      )
        throw asError(error)
      await job.updateData({ ...job.data, error: recordError(error) }).catch(() => {})
      await store.save(failedUpdate(error, latest, updates))
      throw isRetryable(error) ? asError(error) : new UnrecoverableError(asError(error).message)
    }
  }
}

/** The job's events: its prompt followed where it was sent, or sent now. */
function run$(
  parts: WorkerParts,
  job: Job<QueuedJobData, ComfyUIJobResult>,
  signal: AbortSignal | undefined,
  holdLease: () => Promise<void>,
): Observable<JobEvent> {
  const { workflow, options, promptId, target } = job.data
  const attempt = job.attemptsMade
  const send$ = defer(() =>
    parts.runner.run$(workflow, {
      ...options,
      promptId,
      ...(signal === undefined ? {} : { signal }),
      // Recorded by the lease's holder only: a worker that lost it sends nothing.
      beforeSubmit: async (sent: PromptTarget) => {
        await holdLease()
        await job.updateData({ ...job.data, target: { ...sent, attempt, submitted: false } })
      },
    }),
  ).pipe(
    tap((event) => {
      const recorded = job.data.target
      if (event.type !== 'queued' || recorded === undefined || recorded.submitted) return
      job.updateData({ ...job.data, target: { ...recorded, submitted: true } }).catch(() => {})
    }),
  )
  if (target === undefined) return send$
  return parts.adopted
    .track$(target, trackOptionsOf(job.data, signal))
    .pipe(
      catchError((error: unknown) =>
        error instanceof ComfyPromptLostError && takeOver(target, attempt) === 'send'
          ? send$
          : throwError(() => error),
      ),
    )
}

/** A job cancelled before it started here: its prompt, if it was sent, is cancelled on its pod. */
async function cancelledOnPod(
  parts: WorkerParts,
  job: Job<QueuedJobData, ComfyUIJobResult>,
): Promise<ComfyCancelledError> {
  const { promptId, target } = job.data
  // Cancelled anyway when its pod cannot be asked: the job ends as its owner asked.
  const phase =
    target === undefined ? undefined : await parts.adopted.cancel(target).catch(() => undefined)
  return new ComfyCancelledError(promptId, phase ?? 'pending')
}

function trackOptionsOf(data: QueuedJobData, signal: AbortSignal | undefined): TrackPromptOptions {
  const {
    timeoutMs,
    queueTimeoutMs,
    pollIntervalMs,
    stallTimeoutMs,
    progressThrottleMs,
    restFallback,
  } = data.options
  return {
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(queueTimeoutMs === undefined ? {} : { queueTimeoutMs }),
    ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
    ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
    ...(progressThrottleMs === undefined ? {} : { progressThrottleMs }),
    ...(restFallback === undefined ? {} : { restFallback }),
    ...(signal === undefined ? {} : { signal }),
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
