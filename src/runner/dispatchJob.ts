import { randomUUID } from 'node:crypto'
import {
  catchError,
  concat,
  defer,
  EMPTY,
  finalize,
  ignoreElements,
  type Observable,
  type ObservableInput,
  switchMap,
  tap,
  throwError,
  timeout,
} from 'rxjs'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import { reportJob } from '../analytics/reportJob.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { Workflow } from '../job/Workflow.js'
import type { PromptTarget } from './ComfyUIJobRunnerOptions.js'
import { isUnsentPrompt } from './isUnsentPrompt.js'
import type { PodSlot } from './PodPool.js'
import type { RunnerParts } from './RunnerParts.js'

/** A job given to the runner. */
export interface RunnerJob {
  readonly workflow: Workflow
  readonly options: ExecuteWorkflowOptions
  readonly jobType: JobType
  /** Its `timeoutMs`, the default in place. */
  readonly timeoutMs: number
  /** When it times out (the wait for a pod included), on the scheduler's clock; or `Infinity`. */
  readonly deadline: number
  /** Waited for before each `POST /prompt` (`RunJobOptions.beforeSubmit`). */
  readonly beforeSubmit: ((target: PromptTarget) => ObservableInput<unknown> | void) | undefined
}

/**
 * Sends a job to a pod of the pool once one has room, and follows it there. A job whose pod
 * refused it before taking it (`isUnsentPrompt`) is sent once to another pod, and its pod is
 * checked at once; a job a pod took is never sent elsewhere (no duplicate generation) — it falls
 * back to REST polling with its pod, or fails. The job's promptId is its option's or a new UUID,
 * the same on every pod it is sent to; `beforeSubmit` is waited for before each `POST /prompt`.
 *
 * @param excluded - the pod that refused the job: never again for it
 * @returns the job's events; `ComfyTimeoutError` when no pod took it by its deadline
 */
export function dispatchJob$(
  parts: RunnerParts,
  job: RunnerJob,
  excluded?: PodSlot,
): Observable<JobEvent> {
  const { pool, counter, scheduler } = parts
  const { workflow, options, jobType, timeoutMs, deadline, beforeSubmit } = job
  const promptId = options.promptId ?? randomUUID()
  const restFallback = options.restFallback ?? true
  const left = (): number => deadline - scheduler.now()
  const limited = Number.isFinite(deadline)
  /** The wait for a pod and for the hook count in the job's time. */
  const inTime = <T>(wait$: Observable<T>): Observable<T> =>
    limited
      ? wait$.pipe(
          timeout({
            first: Math.max(0, left()),
            scheduler,
            with: () => throwError(() => new ComfyTimeoutError(undefined, timeoutMs)),
          }),
        )
      : wait$
  const slot$ = inTime(pool.slot$(excluded))
  return slot$.pipe(
    switchMap((slot) => {
      counter.add('dispatched')
      let started = false
      let released = false
      const release = (): void => {
        if (released) return
        released = true
        pool.release(slot)
      }
      const retried = (error: unknown): boolean =>
        !started && excluded === undefined && pool.slots.length > 1 && isUnsentPrompt(error)
      const submit$ = defer(() =>
        slot.pod.executeWorkflow$(workflow, {
          ...options,
          promptId,
          ...(limited ? { timeoutMs: Math.max(1, left()) } : {}),
        }),
      )
      const target = { promptId, podUrl: slot.pod.url, clientId: slot.pod.clientId }
      const events$ =
        beforeSubmit === undefined
          ? submit$
          : concat(
              inTime(defer(() => beforeSubmit(target) ?? EMPTY).pipe(ignoreElements())),
              submit$,
            )
      return events$.pipe(
        tap(() => (started = true)),
        reportJob(counter.sink, {
          pod: slot.pod,
          jobType,
          restFallback,
          isRetried: retried,
          scheduler,
        }),
        finalize(release),
        catchError((error: unknown) => {
          if (!retried(error)) return throwError(() => error)
          // The pod refused a connection: check it now, and never send this job there again.
          release()
          slot.recheck$.next()
          counter.add('retried')
          return dispatchJob$(parts, { ...job, options: { ...options, promptId } }, slot)
        }),
      )
    }),
  )
}
