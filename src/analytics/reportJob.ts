import {
  asyncScheduler,
  connect,
  defer,
  endWith,
  filter,
  ignoreElements,
  merge,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
  takeUntil,
  tap,
  throttleTime,
} from 'rxjs'
import type { JobEvent, JobProgress } from '../job/JobEvent.js'
import type { ComfyPod } from '../pod/ComfyPod.js'
import { invalid } from '../internal/optionChecks.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import type { FallbackReason, JobType } from './AnalyticsEvent.js'
import type { AnalyticsSink } from './AnalyticsSink.js'
import { assertJobType } from './assertJobType.js'
import { captureSafely } from './captureSafely.js'
import { redactSecrets } from './redactSecrets.js'
import { seconds } from './seconds.js'

/** Options of `reportJob(sink, options)`. */
export interface ReportJobOptions {
  /** The pod the job runs on: its `connection$` tells when and why the job falls back. */
  readonly pod: Pick<ComfyPod, 'connection$'>
  /**
   * `jobType` of the `comfyui_progress_update` events.
   * @default 'image_generation'
   */
  readonly jobType?: JobType
  /**
   * At most one `comfyui_progress_update` per window of this many ms (the first of each window).
   * The job's own events are never delayed.
   * @default 5000
   */
  readonly progressThrottleMs?: number
  /**
   * The job's own `restFallback`: with `false` a lost socket fails the job, and no fallback is
   * reported.
   * @default true
   */
  readonly restFallback?: boolean
  /**
   * Errors after which the job is tried again elsewhere (a runner's retry): nothing is reported
   * for them, since the job goes on.
   * @default () => false
   */
  readonly isRetried?: (error: unknown) => boolean
  /**
   * Clock of the throttle window.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

/**
 * Reports a job's events to a sink as they pass, without changing or delaying them:
 * `comfyui_websocket_fallback` (once, when the pod's socket fails while the job runs),
 * `comfyui_progress_update` (throttled), then `comfyui_job_websocket_completed` or
 * `comfyui_job_rest_polling_completed` by `result.method`, or `comfyui_job_websocket_failed` /
 * `comfyui_job_rest_polling_failed` by whether the job had fallen back. Unsubscribing stops it.
 *
 * @example
 * ```ts
 * import { ComfyPod, reportJob } from 'comfyui-rx'
 *
 * const pod = new ComfyPod('http://127.0.0.1:8188')
 * pod
 *   .executeWorkflow$(workflow)
 *   .pipe(reportJob(sink, { pod, jobType: 'image_generation' }))
 *   .subscribe((event) => console.log(event.type)) // queued, started, progress, …, completed
 * // sink: comfyui_progress_update …, comfyui_job_websocket_completed { promptId, duration: 4.2, progressUpdates: 9, method: 'websocket' }
 * ```
 * @param sink - where the events go
 * @param options - see `ReportJobOptions`
 * @returns an operator that mirrors the job's events and notifications
 * @throws TypeError for an invalid option
 */
export function reportJob(
  sink: AnalyticsSink,
  options: ReportJobOptions,
): MonoTypeOperatorFunction<JobEvent> {
  const {
    pod,
    jobType = 'image_generation',
    progressThrottleMs = 5000,
    restFallback = true,
    isRetried = () => false,
    scheduler = asyncScheduler,
  } = options
  if (typeof pod !== 'object' || pod === null || typeof pod.connection$ !== 'object')
    invalid('pod', pod, 'a ComfyPod')
  assertJobType(jobType)
  if (
    typeof progressThrottleMs !== 'number' ||
    Number.isNaN(progressThrottleMs) ||
    progressThrottleMs < 0
  )
    invalid('progressThrottleMs', progressThrottleMs, 'a number >= 0')
  if (typeof isRetried !== 'function') invalid('isRetried', isRetried, 'a function')

  return (events$: Observable<JobEvent>) =>
    defer(() => {
      let promptId: string | undefined
      let opened = false
      let fallback: FallbackReason | undefined
      let fallbackSent = false

      const sendFallback = (id: string): void => {
        if (fallback === undefined || fallbackSent) return
        fallbackSent = true
        captureSafely(sink, {
          event: 'comfyui_websocket_fallback',
          properties: { promptId: id, reason: fallback, fallbackMethod: 'rest_polling' },
        })
      }
      // The first state is the pod's current one, replayed: a `failed` left over from before
      // this job is no fallback of it, but an open socket is one it uses.
      let replayed = true
      const onConnection = (state: ConnectionState): void => {
        const current = replayed
        replayed = false
        if (state.state === 'open') opened = true
        if (current || state.state !== 'failed' || !restFallback || fallback !== undefined) return
        fallback = !opened ? 'connection_failed' : state.code === 'timeout' ? 'timeout' : 'error'
        if (promptId !== undefined) sendFallback(promptId)
      }
      const onEvent = (event: JobEvent): void => {
        promptId = event.promptId
        sendFallback(promptId)
        if (event.type !== 'completed') return
        const { result } = event
        const properties = {
          promptId: event.promptId,
          duration: seconds(result.durationMs),
          progressUpdates: result.progressUpdates,
        }
        captureSafely(
          sink,
          result.method === 'websocket'
            ? {
                event: 'comfyui_job_websocket_completed',
                properties: { ...properties, method: 'websocket' },
              }
            : {
                event: 'comfyui_job_rest_polling_completed',
                properties: { ...properties, method: 'rest_polling' },
              },
        )
      }
      const onError = (error: unknown): void => {
        if (isRetried(error)) return
        const id = promptId ?? promptIdOf(error) ?? 'unknown'
        sendFallback(id)
        const text = redactSecrets(describe(error))
        captureSafely(
          sink,
          fallback === undefined
            ? {
                event: 'comfyui_job_websocket_failed',
                properties: { promptId: id, error: text, method: 'websocket' },
              }
            : {
                event: 'comfyui_job_rest_polling_failed',
                properties: { promptId: id, error: text, method: 'rest_polling' },
              },
        )
      }
      const onProgress = (event: JobProgress): void =>
        captureSafely(sink, {
          event: 'comfyui_progress_update',
          properties: { promptId: event.promptId, progress: event.progress, jobType },
        })

      return events$.pipe(
        connect((job$) => {
          const end$ = job$.pipe(ignoreElements(), endWith(null))
          // Every branch is subscribed before the job starts, so no connection state is missed;
          // the job's own branch comes first, to see its end before the others stop.
          return merge(
            job$.pipe(tap({ next: onEvent, error: onError })),
            pod.connection$.pipe(tap(onConnection), ignoreElements(), takeUntil(end$)),
            // Leading edge only: nothing is held back, so the job's end is not delayed.
            job$.pipe(
              filter((event): event is JobProgress => event.type === 'progress'),
              throttleTime(progressThrottleMs, scheduler, { leading: true, trailing: false }),
              tap(onProgress),
              ignoreElements(),
            ),
          )
        }),
      )
    })
}

function promptIdOf(error: unknown): string | undefined {
  const id = (error as { promptId?: unknown } | null)?.promptId
  return typeof id === 'string' && id !== '' ? id : undefined
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
