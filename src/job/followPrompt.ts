import {
  catchError,
  concat,
  connect,
  defer,
  distinctUntilChanged,
  EMPTY,
  exhaustMap,
  filter,
  finalize,
  from,
  fromEvent,
  map,
  merge,
  mergeMap,
  NEVER,
  Observable,
  type ObservableInput,
  of,
  ReplaySubject,
  repeat,
  retry,
  scan,
  type SchedulerLike,
  share,
  skip,
  switchMap,
  take,
  takeUntil,
  takeWhile,
  tap,
  throttleTime,
  throwError,
  timer,
} from 'rxjs'
import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import type { ConnectionState } from '../pod/ConnectionState.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import type { JobEvent } from './JobEvent.js'
import {
  reduceJob,
  type JobFailed,
  type JobInput,
  type JobState,
  type QueueState,
} from './reduceJob.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'

/** What a job needs from its pod; injected so that every path runs in virtual time in tests. */
export interface JobContext {
  readonly scheduler: SchedulerLike
  /** A fresh prompt id, sent with the prompt (§5.2). */
  newPromptId(): string
  /**
   * The messages of one prompt; subscribing opens the socket. Errors with
   * `ComfyConnectionError` when the socket is lost for good or the pod closed, `ComfyAuthError`
   * when the pod refuses the credentials.
   */
  listen$(promptId: string): Observable<PodMessage>
  /** The socket's state; replays the current one. */
  readonly connection$: Observable<ConnectionState>
  /** Drops the socket and reconnects (a watchdog found it silent). */
  reconnect(): void
  /** Scheduler time of the last frame the socket brought, or -Infinity. */
  lastMessageAt(): number
  /** How long a job whose socket was lost waits before it tries the socket again. */
  readonly socketRetryMs: number
  /** Where the prompt stands in `GET /queue`. */
  queueState(promptId: string): ObservableInput<QueueState>
  /** `GET /history/{id}`: the entry, or undefined while there is none. */
  getHistory(promptId: string): ObservableInput<HistoryEntry | undefined>
  /** Cancels the prompt on the pod, whether pending or running. */
  cancel(promptId: string): ObservableInput<void>
  viewUrl: JobState['viewUrl']
}

/** How a job starts: its own id, its first state, and how its prompt gets queued. */
export interface FollowPlan {
  /** The id routed before anything is sent. */
  readonly ownId: string
  readonly initial: JobState
  /** Queues the prompt once `ready$` emits (the socket is open, or given up); the pod's id. */
  submit(ready$: Observable<unknown>): Observable<{ readonly promptId: string }>
  /** Start with a REST round (queue, then history): for a prompt queued earlier. */
  readonly reconcileFirst?: boolean
}

const MAX_POLL_INTERVAL_MS = 30_000

/**
 * Follows one prompt to exactly one end: its socket messages and the REST snapshots of the
 * fallback all go through the one reducer; progress is throttled; every route, timer and poll
 * goes away with the subscription.
 */
export function followPrompt(
  context: JobContext,
  plan: FollowPlan,
  options: TrackPromptOptions,
): Observable<JobEvent> {
  const {
    progressThrottleMs = 1000,
    timeoutMs = 1_800_000,
    queueTimeoutMs = Number.POSITIVE_INFINITY,
    pollIntervalMs = 1000,
    stallTimeoutMs = 60_000,
    signal,
    cancelOnUnsubscribe = false,
    restFallback = true,
  } = options
  const { scheduler } = context
  const at = (): number => scheduler.now()

  return defer(() => {
    let promptId = plan.ownId
    let ended = false
    // Read by the watchdog: a timer re-armed per message would cost a clearTimeout each time.
    let lastHeardAt = at()
    let lastAlarmAt = Number.NEGATIVE_INFINITY

    // Without a fallback, a prompt is only worth queueing once the socket that reports it is open.
    const ready$ = context.connection$.pipe(
      filter((state) => state.state === 'open' || (restFallback && state.state === 'failed')),
      take(1),
    )
    // Replayed to every branch that needs the answer, and never sent twice.
    const accepted$ = plan.submit(ready$).pipe(
      tap((answer) => (promptId = answer.promptId)),
      share({ connector: () => new ReplaySubject(1), resetOnError: false, resetOnComplete: false }),
    )

    const socketInputs$: Observable<JobInput> = merge(
      context.listen$(plan.ownId),
      // An old server ignores our id and picks its own: follow that one too.
      accepted$.pipe(
        filter((answer) => answer.promptId !== plan.ownId),
        mergeMap((answer) => context.listen$(answer.promptId)),
      ),
    ).pipe(
      map((message): JobInput => {
        lastHeardAt = at()
        return { kind: 'message', at: lastHeardAt, message }
      }),
      // The socket is tried again later; meanwhile the polling below carries the job.
      retry({
        delay: (error: unknown) =>
          isFatal(error) || !restFallback
            ? throwError(() => error)
            : timer(context.socketRetryMs, scheduler),
      }),
    )

    const history$ = (source: JobMethod): Observable<JobInput> =>
      defer(() => context.getHistory(promptId)).pipe(
        map((entry): JobInput => ({ kind: 'history', at: at(), source, entry })),
      )
    const queue$ = (source: JobMethod): Observable<JobInput> =>
      defer(() => context.queueState(promptId)).pipe(
        map((queue): JobInput => ({ kind: 'queue', at: at(), source, queue })),
      )
    // The lost-prompt order of §5.14: the queue first, then history; a prompt found in neither
    // is looked for once more before it is declared lost.
    const round$ = (confirm = true): Observable<JobInput> =>
      queue$('rest_polling').pipe(
        mergeMap((queued) =>
          concat(
            of(queued),
            history$('rest_polling').pipe(
              mergeMap((found) =>
                confirm && isAbsent(queued) && found.kind === 'history' && found.entry === undefined
                  ? concat(
                      of(found),
                      timer(pollIntervalMs, scheduler).pipe(switchMap(() => round$(false))),
                    )
                  : of(found),
              ),
            ),
          ),
        ),
      )

    const socketPath$ = concat(
      socketInputs$.pipe(takeWhile((input) => !isPromptEnd(input), true)),
      // After `executing null`: history confirms; without it the socket's account stands (§3.7).
      history$('websocket').pipe(
        catchError((error: unknown) =>
          isFatal(error)
            ? throwError(() => error)
            : of<JobInput>({ kind: 'history', at: at(), source: 'websocket', entry: undefined }),
        ),
      ),
    )

    const submission$ = accepted$.pipe(
      mergeMap((answer) =>
        concat(
          of<JobInput>({ kind: 'accepted', at: at(), promptId: answer.promptId }),
          plan.reconcileFirst
            ? // A prompt queued earlier may be anywhere, finished or gone: a full round tells.
              round$().pipe(catchError(nonFatal))
            : // The position is a courtesy: without it `queued` comes with the start.
              queue$('websocket').pipe(catchError(() => EMPTY)),
        ),
      ),
    )

    // Down from the moment the pod gives up on the socket until it is open again.
    const down$ = context.connection$.pipe(
      scan(
        (down, state) => (state.state === 'failed' ? true : state.state === 'open' ? false : down),
        false,
      ),
      distinctUntilChanged(),
    )
    const whileAccepted = <T>(project: () => Observable<T>): Observable<T> =>
      accepted$.pipe(switchMap(project))

    const polling$ = whileAccepted(() =>
      down$.pipe(
        switchMap((down) =>
          down && restFallback ? pollRounds(() => round$(false), pollIntervalMs, scheduler) : EMPTY,
        ),
      ),
    )
    // Whatever happened while the socket was away, one REST round catches up with it.
    const reconciles$ = whileAccepted(() =>
      context.connection$.pipe(
        map((state) => state.state === 'open'),
        distinctUntilChanged(),
        skip(1),
        filter(Boolean),
      ),
    ).pipe(exhaustMap(() => round$().pipe(catchError(nonFatal))))
    // Fires once per stallTimeoutMs of silence: the timer is re-armed only when it fires.
    const silence$ = defer(() =>
      timer(Math.max(0, Math.max(lastHeardAt, lastAlarmAt) + stallTimeoutMs - at()), scheduler),
    ).pipe(
      repeat(),
      filter(() => at() - Math.max(lastHeardAt, lastAlarmAt) >= stallTimeoutMs),
      tap(() => (lastAlarmAt = at())),
    )
    const watchdog$ = whileAccepted(() =>
      down$.pipe(switchMap((down) => (down ? EMPTY : silence$))),
    ).pipe(
      exhaustMap(() =>
        round$().pipe(
          tap((input) => {
            const silentFor = scheduler.now() - context.lastMessageAt()
            if (
              input.kind === 'queue' &&
              input.queue.state === 'running' &&
              silentFor >= stallTimeoutMs
            ) {
              context.reconnect()
            }
          }),
          catchError(nonFatal),
        ),
      ),
    )

    const events$ = merge(socketPath$, submission$, polling$, reconciles$, watchdog$).pipe(
      reduceInputs(plan.initial),
      takeWhile((event) => event.type !== 'completed' && event.type !== 'failed', true),
      map((event) => {
        if (event.type === 'failed') throw event.error
        return event
      }),
    )

    const cancel = (): void => {
      from(context.cancel(promptId)).subscribe({ error: () => undefined })
    }
    const failAfter = (ms: number, error: () => Error): Observable<never> =>
      Number.isFinite(ms) ? timer(ms, scheduler).pipe(mergeMap(() => throwError(error))) : NEVER
    const deadline$ = failAfter(timeoutMs, () => new ComfyTimeoutError(promptId, timeoutMs))
    const aborted$ =
      signal === undefined
        ? NEVER
        : abortOf(signal).pipe(
            mergeMap(() => {
              cancel()
              return throwError(() => new ComfyInterruptedError({ prompt_id: promptId }))
            }),
          )

    let progressUpdates = 0
    let started = false
    // The wait in the queue ends with `started`.
    const queueDeadline$ = Number.isFinite(queueTimeoutMs)
      ? timer(queueTimeoutMs, scheduler).pipe(
          filter(() => !started),
          mergeMap(() => {
            cancel()
            return throwError(() => new ComfyTimeoutError(promptId, queueTimeoutMs, 'queue'))
          }),
        )
      : NEVER
    return events$.pipe(
      throttleProgress(progressThrottleMs, scheduler),
      map((event) => {
        if (event.type === 'started') started = true
        if (event.type === 'progress') progressUpdates++
        return event.type === 'completed'
          ? { ...event, result: { ...event.result, progressUpdates } }
          : event
      }),
      takeUntil(merge(deadline$, aborted$, queueDeadline$)),
      tap({ complete: () => (ended = true), error: () => (ended = true) }),
      finalize(() => {
        if (cancelOnUnsubscribe && !ended) cancel()
      }),
    )
  })
}

/**
 * Runs the reducer over the inputs and emits each step's events. `scan` + `concatMap` would do,
 * at the price of an inner subscription per message on the hottest path of the library.
 */
function reduceInputs(initial: JobState) {
  return (inputs$: Observable<JobInput>): Observable<JobEvent | JobFailed> =>
    new Observable((subscriber) => {
      let state = initial
      return inputs$.subscribe({
        next: (input) => {
          const step = reduceJob(state, input)
          state = step.state
          for (const event of step.events) subscriber.next(event)
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      })
    })
}

/**
 * REST rounds every `intervalMs`, the first at once; after a failed round the interval doubles
 * (up to 30 s) until the pod answers again.
 */
function pollRounds(
  round$: () => Observable<JobInput>,
  intervalMs: number,
  scheduler: SchedulerLike,
): Observable<JobInput> {
  return defer(() => {
    let failures = 0
    return defer(round$).pipe(
      tap({ complete: () => (failures = 0) }),
      catchError((error: unknown) => {
        failures++
        return nonFatal(error)
      }),
      repeat({
        delay: () => timer(Math.min(intervalMs * 2 ** failures, MAX_POLL_INTERVAL_MS), scheduler),
      }),
    )
  })
}

/** Swallows a REST failure that a later round may get past; rethrows what none will. */
function nonFatal(error: unknown): Observable<never> {
  return isFatal(error) ? throwError(() => error) : EMPTY
}

function isAbsent(input: JobInput): boolean {
  return input.kind === 'queue' && input.queue.state === 'absent'
}

function isFatal(error: unknown): boolean {
  return (
    error instanceof ComfyAuthError ||
    (error instanceof ComfyConnectionError && error.reason === 'pod_closed')
  )
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
