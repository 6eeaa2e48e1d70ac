import { isLeft } from 'fp-ts/lib/Either.js'
import {
  catchError,
  concat,
  concatMap,
  connect,
  defer,
  EMPTY,
  filter,
  fromEvent,
  map,
  merge,
  mergeMap,
  NEVER,
  type Observable,
  type ObservableInput,
  of,
  type SchedulerLike,
  scan,
  share,
  switchMap,
  take,
  takeUntil,
  takeWhile,
  throttleTime,
  throwError,
  timer,
  from,
} from 'rxjs'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { ExecuteWorkflowOptions } from './ExecuteWorkflowOptions.js'
import { expectedNodes } from './expectedNodes.js'
import type { JobEvent } from './JobEvent.js'
import {
  initialJobState,
  reduceJob,
  type JobFailed,
  type JobInput,
  type JobState,
} from './reduceJob.js'
import { Workflow } from './Workflow.js'

/** What a job needs from its pod; injected so that every path runs in virtual time in tests. */
export interface JobContext {
  readonly scheduler: SchedulerLike
  /** The socket's URL for errors, without credentials. */
  readonly socketUrl: string
  /** A fresh prompt id, sent with the prompt (§5.2). */
  newPromptId(): string
  /** The messages of one prompt; subscribing opens the socket. Errors when the socket is lost for good. */
  listen$(promptId: string): Observable<PodMessage>
  /** Emits when the socket is open (at once if it is). */
  readonly open$: Observable<unknown>
  /** `POST /prompt`; resolves with the id the pod uses. */
  queuePrompt(request: {
    readonly workflow: Workflow
    readonly promptId: string
    readonly extraData: Readonly<Record<string, unknown>>
    readonly front: boolean
  }): ObservableInput<{ readonly promptId: string }>
  /** The prompt's position among the pending ones (0 runs next; 0 too once it is running). */
  queuePosition(promptId: string): ObservableInput<number>
  /** `GET /history/{id}`: the entry, or undefined while there is none. */
  getHistory(promptId: string): ObservableInput<HistoryEntry | undefined>
  /** Cancels the prompt on the pod, whether pending or running. */
  cancel(promptId: string): ObservableInput<void>
  viewUrl: JobState['viewUrl']
}

/**
 * Queues a workflow and follows it to its end: listen first, then `POST /prompt`, then one pure
 * reducer over the pod's messages, progress throttled, exactly one terminal notification.
 * Cold: nothing happens until subscription; unsubscribing removes every route and timer.
 *
 * @throws TypeError for a workflow not in API format or an invalid option
 */
export function executeWorkflow(
  context: JobContext,
  workflow: Workflow,
  options: ExecuteWorkflowOptions = {},
): Observable<JobEvent> {
  const {
    progressThrottleMs = 1000,
    timeoutMs = 1_800_000,
    signal,
    extraData = {},
    front = false,
  } = options
  assertWorkflow(workflow)
  if (typeof progressThrottleMs !== 'number' || !(progressThrottleMs >= 0)) {
    throw new TypeError(
      `progressThrottleMs must be a number >= 0, received ${String(progressThrottleMs)}`,
    )
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    throw new TypeError(`timeoutMs must be a number > 0, received ${String(timeoutMs)}`)
  }
  if (typeof extraData !== 'object' || extraData === null) {
    throw new TypeError(`extraData must be an object, received ${String(extraData)}`)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, received ${String(signal)}`)
  }
  const { scheduler } = context

  return defer(() => {
    const ownId = context.newPromptId()
    let promptId = ownId
    const initial = initialJobState(
      ownId,
      expectedNodes(workflow),
      scheduler.now(),
      context.viewUrl,
    )
    const at = (): number => scheduler.now()

    const accepted$ = context.open$.pipe(
      take(1),
      switchMap(() => context.queuePrompt({ workflow, promptId: ownId, extraData, front })),
      share(),
    )
    const socketInputs$: Observable<JobInput> = merge(
      context.listen$(ownId),
      // An old server ignores our id and picks its own: follow that one too.
      accepted$.pipe(
        filter((answer) => answer.promptId !== ownId),
        mergeMap((answer) => context.listen$(answer.promptId)),
      ),
    ).pipe(map((message): JobInput => ({ kind: 'message', at: at(), message })))
    const submission$: Observable<JobInput> = accepted$.pipe(
      mergeMap((answer) => {
        promptId = answer.promptId
        return concat(
          of<JobInput>({ kind: 'accepted', at: at(), promptId: answer.promptId }),
          from(context.queuePosition(answer.promptId)).pipe(
            map((position): JobInput => ({ kind: 'position', at: at(), position })),
            // The position is a courtesy: without it `queued` comes with the start.
            catchError(() => EMPTY),
          ),
        )
      }),
    )
    const history$ = defer(() => context.getHistory(promptId)).pipe(
      map((entry): JobInput => ({ kind: 'history', at: at(), source: 'websocket', entry })),
      // Without history the socket's own account stands (§3.7).
      catchError(() =>
        of<JobInput>({ kind: 'history', at: at(), source: 'websocket', entry: undefined }),
      ),
    )
    const inputs$ = concat(
      merge(socketInputs$, submission$).pipe(takeWhile((input) => !isPromptEnd(input), true)),
      history$,
      defer(() =>
        throwError(
          () =>
            new ComfyConnectionError(
              `the pod's stream ended before prompt ${promptId} did`,
              context.socketUrl,
              'closed',
            ),
        ),
      ),
    )

    const events$ = inputs$.pipe(
      scan((step, input) => reduceJob(step.state, input), {
        state: initial,
        events: [] as readonly (JobEvent | JobFailed)[],
      }),
      concatMap((step) => step.events),
      takeWhile((event) => event.type !== 'completed' && event.type !== 'failed', true),
      map((event) => {
        if (event.type === 'failed') throw event.error
        return event
      }),
    )

    const deadline$ = Number.isFinite(timeoutMs)
      ? timer(timeoutMs, scheduler).pipe(
          mergeMap(() => throwError(() => new ComfyTimeoutError(promptId, timeoutMs))),
        )
      : NEVER
    const aborted$ =
      signal === undefined
        ? NEVER
        : abortOf(signal).pipe(
            mergeMap(() => {
              // Fire and forget: the job ends now, whether or not the pod hears of it.
              from(context.cancel(promptId)).subscribe({ error: () => undefined })
              return throwError(() => new ComfyInterruptedError({ prompt_id: promptId }))
            }),
          )

    let progressUpdates = 0
    return events$.pipe(
      throttleProgress(progressThrottleMs, scheduler),
      map((event) => {
        if (event.type === 'progress') progressUpdates++
        return event.type === 'completed'
          ? { ...event, result: { ...event.result, progressUpdates } }
          : event
      }),
      takeUntil(merge(deadline$, aborted$)),
    )
  })
}

/**
 * Throttles `progress` events alone. The final progress (100) and every other event pass at
 * once; a trailing progress still held when the job ends is dropped, never sent after it.
 */
function throttleProgress(ms: number, scheduler: SchedulerLike) {
  return (events$: Observable<JobEvent>): Observable<JobEvent> =>
    ms === 0
      ? events$
      : events$.pipe(
          connect((shared$) => {
            const final$ = shared$.pipe(filter(isFinalProgress))
            return merge(
              shared$.pipe(
                filter((event) => event.type === 'progress'),
                throttleTime(ms, scheduler, { leading: true, trailing: true }),
                takeUntil(final$),
              ),
              shared$.pipe(filter((event) => event.type !== 'progress' || isFinalProgress(event))),
            )
          }),
        )
}

function abortOf(signal: AbortSignal): Observable<unknown> {
  return signal.aborted ? of(signal.reason) : fromEvent(signal, 'abort').pipe(take(1))
}

function isFinalProgress(event: JobEvent): boolean {
  return event.type === 'progress' && event.progress === 100
}

/** `executing {node: null}` of our prompt: the socket's last word on it (§3.7). */
function isPromptEnd(input: JobInput): boolean {
  return (
    input.kind === 'message' &&
    input.message.type === 'executing' &&
    input.message.data.node === null
  )
}

function assertWorkflow(workflow: unknown): asserts workflow is Workflow {
  if (
    typeof workflow === 'object' &&
    workflow !== null &&
    Array.isArray((workflow as { nodes?: unknown }).nodes)
  ) {
    throw new TypeError(
      'workflow is in the UI save format (it has a `nodes` array); export it with "Export (API)" (Save (API Format)) and pass that',
    )
  }
  const decoded = Workflow.decode(workflow)
  if (isLeft(decoded) || Object.keys(workflow as object).length === 0) {
    throw new TypeError(
      'workflow must be an API-format workflow: {nodeId: {class_type, inputs}}, with at least one node',
    )
  }
}
