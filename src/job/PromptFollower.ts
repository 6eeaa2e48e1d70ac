import {
  catchError,
  EMPTY,
  from,
  type Observable,
  type Observer,
  of,
  type Subscriber,
  type Subscription,
  tap,
  throwError,
  type Unsubscribable,
} from 'rxjs'
import { ComfyCancelledError, type CancelledPhase } from '../errors/ComfyCancelledError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import { isFatalError } from '../errors/isFatalError.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { FollowPlan, JobSettings } from './JobSettings.js'
import type { Alarm } from './AlarmClock.js'
import type { CancellableJob } from './FollowedPrompts.js'
import type { PodListener } from '../socket/PodListener.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { progressEvent } from './progressEvent.js'
import type { JobInput, JobState } from './JobState.js'
import { reduceJob } from './reduceJob.js'
import { nonFatal, onGrid, RestRounds } from './RestRounds.js'

/** The state a job with `socket: false` acts on: down from the start, polled over REST. */
const NO_SOCKET: ConnectionState = {
  state: 'failed',
  reason: 'the job does not use the socket (socket: false)',
  code: 'unused',
}

/**
 * One job, from subscription to its single end. Socket messages and the REST snapshots of the
 * fallback go through the one reducer. A socket that is not open within `socketGraceMs` — before
 * the prompt is sent or after a drop — is not waited for: the job submits and polls over REST
 * while the pod keeps trying, and returns to the socket after one reconcile round once it opens.
 * Progress is throttled like `throttleTime` (leading and trailing edges) on the state, so a
 * dropped update costs no event. An idle job is this record,
 * its routes and one timer: the pod relays socket states to it, and REST work (polling while the
 * socket is down, a round after each reconnect, the silence watchdog) runs only while needed.
 */
export class PromptFollower implements PodListener, CancellableJob, Alarm, Unsubscribable {
  // The pod's alarm clock keeps its bookkeeping here.
  alarmAt = Number.POSITIVE_INFINITY
  alarmSlot = -1
  private state: JobState
  private readonly ownId: string
  /** `POST /prompt`, until it is sent; absent for a prompt queued earlier. */
  private submit: FollowPlan['submit']
  private readonly queuedEarlier: boolean
  private promptId: string
  /** The pod's own id for the prompt, when an old server ignored ours. */
  private podId: string | undefined
  /** A terminal notification was sent. */
  private ended = false
  /** Everything of the job is gone. */
  private closed = false
  private listening = true
  private accepted = false
  private connectionState: ConnectionState | undefined
  /** Since when the socket has not been open (the start, if it never was); undefined while open. */
  private unopenSince: number | undefined
  private down = false
  /** Whether the socket was open when last seen, since the prompt was accepted. */
  private open: boolean | undefined
  private lastHeardAt: number
  private lastAlarmAt = Number.NEGATIVE_INFINITY
  private throttle: Subscription | undefined
  private trailing = false
  private emittedVersion = 0
  private progressUpdates = 0
  private posting: Subscription | undefined
  private catchingUp: Subscription | undefined
  private polling: Subscription | undefined
  private reconciling: Subscription | undefined
  private watching: Subscription | undefined
  private confirming: Subscription | undefined

  constructor(
    private readonly context: JobContext,
    plan: FollowPlan,
    private readonly settings: JobSettings,
    private readonly subscriber: Subscriber<JobEvent>,
  ) {
    this.state = plan.initial
    this.ownId = plan.ownId
    this.promptId = plan.ownId
    this.submit = plan.submit
    this.queuedEarlier = plan.submit === undefined
    this.lastHeardAt = plan.initial.submittedAt
  }

  /** Listens first, then asks: the route exists before anything is sent. */
  start(): void {
    const { signal } = this.settings
    if (signal?.aborted === true) return this.abort()
    signal?.addEventListener('abort', this)
    this.context.prompts.add(this.ownId, this)
    if (this.settings.socket) {
      this.context.route(this.ownId, this)
      if (this.closed) return
      this.context.attach(this)
    } else {
      this.listening = false
      this.connection(NO_SOCKET)
    }
    if (this.closed) return
    if (this.queuedEarlier) this.accept(this.ownId)
    if (this.closed) return
    this.rearm()
  }

  /** The subscription's teardown. */
  unsubscribe(): void {
    if (this.closed) return
    const pending = !this.ended
    this.dispose()
    if (this.settings.cancelOnUnsubscribe && pending) this.cancel()
  }

  message(message: PodMessage): void {
    if (this.closed || !this.listening) return
    const at = this.now()
    this.lastHeardAt = at
    this.feed({ kind: 'message', at, message })
    // `executing {node: null}`: the socket's last word on the prompt; history confirms (§3.7).
    if (!this.closed && message.type === 'executing' && message.data.node === null) {
      this.stopListening()
      this.confirming = this.run(
        this.rest()
          .history$('websocket')
          .pipe(
            catchError((error: unknown) =>
              isFatalError(error)
                ? throwError(() => error)
                : of<JobInput>({
                    kind: 'history',
                    at: this.now(),
                    source: 'websocket',
                    entry: undefined,
                  }),
            ),
          ),
      )
    }
  }

  connection(state: ConnectionState): void {
    if (this.closed) return
    this.connectionState = state
    if (state.state === 'open') this.unopenSince = undefined
    else this.unopenSince ??= this.now()
    this.act()
    if (!this.closed) this.rearm()
  }

  lost(error: unknown): void {
    // Otherwise the pod tries the socket again, and polling carries the job meanwhile.
    if (isFatalError(error) || !this.settings.restFallback) this.fail(error)
  }

  queueShrank(): void {
    // Only a prompt still waiting can have been deleted unannounced; a running one ends with a
    // message, and a job on REST polls anyway.
    if (this.closed || !this.accepted || this.hasStarted() || this.down) return
    if (this.reconciling !== undefined || this.catchingUp !== undefined) return
    this.reconciling = this.run(
      this.rest().round$().pipe(catchError(nonFatal)),
      () => (this.reconciling = undefined),
    )
  }

  cancelled(phase: CancelledPhase | undefined): void {
    this.fail(new ComfyCancelledError(this.promptId, phase ?? this.phase))
  }

  get phase(): CancelledPhase {
    return this.hasStarted() ? 'running' : 'pending'
  }

  /** The signal's `abort` listener (an object, not a closure per job). */
  handleEvent(): void {
    this.abort()
  }

  /** Acts on the socket as it is now: sends the prompt when it may, or follows the socket. */
  private act(): void {
    const state = this.connectionState
    if (state === undefined) return
    if (this.accepted) return this.follow(state)
    // Without a fallback, a prompt is only worth queueing once the socket that reports it is open.
    const ready = state.state === 'open' || this.socketDown()
    const { submit } = this
    if (ready && submit !== undefined) {
      // Sent once.
      this.submit = undefined
      const posting = from(submit()).subscribe({
        next: (answer) => this.accept(answer.promptId),
        error: (error: unknown) => this.fail(error),
        complete: () => (this.posting = undefined),
      })
      if (this.closed) posting.unsubscribe()
      else if (!posting.closed) this.posting = posting
    }
  }

  /**
   * Whether the job goes on over REST: the pod gave up on the socket, or it has not been open
   * for `socketGraceMs`. Never without the fallback.
   */
  private socketDown(): boolean {
    if (!this.settings.restFallback || this.connectionState === undefined) return false
    return this.connectionState.state === 'failed' || this.now() >= this.graceEndsAt()
  }

  /** When the job acts on the end of the grace: Infinity when there is nothing left to wait for. */
  private graceAlarmAt(): number {
    if (!this.settings.restFallback) return Number.POSITIVE_INFINITY
    const at = this.graceEndsAt()
    return at > this.now() ? at : Number.POSITIVE_INFINITY
  }

  /** When the socket's grace runs out: Infinity while it is open or the pod has given up. */
  private graceEndsAt(): number {
    return this.unopenSince === undefined || this.connectionState?.state === 'failed'
      ? Number.POSITIVE_INFINITY
      : this.unopenSince + this.context.socketGraceMs
  }

  private accept(answered: string): void {
    if (this.closed || this.accepted) return
    this.accepted = true
    // The pod's answer is an equal string of its own: the job keeps one copy.
    const promptId = answered === this.ownId ? this.ownId : answered
    this.promptId = promptId
    this.feed({ kind: 'accepted', at: this.now(), promptId })
    if (this.closed) return
    // An old server ignores our id and picks its own: follow that one too, from the messages
    // that came before its answer.
    if (promptId !== this.ownId) {
      this.podId = promptId
      this.context.prompts.add(promptId, this)
      if (this.listening) this.context.route(promptId, this)
      if (this.closed) return
    }
    if (this.connectionState !== undefined) this.follow(this.connectionState)
    if (this.closed) return
    // Polling, once started, asks where the prompt stands first thing.
    if (this.polling === undefined) {
      this.catchingUp = this.run(
        this.queuedEarlier
          ? // A prompt queued earlier may be anywhere, finished or gone: a full round tells.
            this.rest().round$().pipe(catchError(nonFatal))
          : // The position is a courtesy: without it `queued` comes with the start.
            this.rest()
              .queue$('websocket')
              .pipe(catchError(() => EMPTY)),
        () => (this.catchingUp = undefined),
      )
      if (this.closed) return
    }
    this.rearm()
  }

  /**
   * After acceptance: polls while the pod has given up on the socket, and catches up after each
   * reopen.
   */
  private follow(state: ConnectionState): void {
    const down = this.socketDown()
    if (down !== this.down) {
      this.down = down
      this.polling?.unsubscribe()
      this.polling =
        down && this.settings.restFallback ? this.run(this.rest().pollRounds$()) : undefined
      if (this.closed) return
      this.rearm()
    }
    const open = state.state === 'open'
    if (open === this.open) return
    const reopened = this.open !== undefined && open
    this.open = open
    // Whatever happened while the socket was away, one REST round catches up with it.
    if (reopened && this.reconciling === undefined) {
      this.reconciling = this.run(
        this.rest().round$().pipe(catchError(nonFatal)),
        () => (this.reconciling = undefined),
      )
    }
  }

  private feed(input: JobInput): void {
    if (this.closed) return
    const step = reduceJob(this.state, input)
    this.state = step.state
    for (const event of step.events) {
      if (event.type === 'failed') return this.fail(event.error)
      this.emit(event)
      if (this.closed) return
    }
    if (this.state.progressVersion !== this.emittedVersion) this.progressChanged()
  }

  private emit(event: JobEvent): void {
    switch (event.type) {
      case 'progress':
        // The final 100: never held back, and no trailing update may follow it.
        this.trailing = false
        this.progressUpdates++
        this.subscriber.next(event)
        return
      case 'completed': {
        const result = { ...event.result, progressUpdates: this.progressUpdates }
        this.ended = true
        this.dispose()
        this.subscriber.next({ ...event, result })
        this.subscriber.complete()
        return
      }
      case 'started':
        this.subscriber.next(event)
        // The wait in the queue is over: its deadline goes.
        if (!this.closed) this.rearm()
        return
      default:
        this.subscriber.next(event)
    }
  }

  private progressChanged(): void {
    if (this.settings.progressThrottleMs === 0) return this.sendProgress()
    if (this.throttle !== undefined) {
      this.trailing = true
      return
    }
    this.sendProgress()
    if (!this.closed) this.openThrottle()
  }

  private sendProgress(): void {
    this.emittedVersion = this.state.progressVersion
    this.progressUpdates++
    this.subscriber.next(progressEvent(this.state))
  }

  private openThrottle(): void {
    this.throttle = this.context.scheduler.schedule(() => {
      this.throttle = undefined
      if (!this.trailing || this.closed) return
      this.trailing = false
      this.sendProgress()
      if (!this.closed) this.openThrottle()
    }, this.settings.progressThrottleMs)
  }

  /**
   * One alarm per job, on the pod's clock: the deadlines, the end of the socket's grace, and the
   * watchdog's next look at the silence.
   */
  private rearm(): void {
    const due = Math.min(
      this.deadlineAt(),
      this.hasStarted() ? Number.POSITIVE_INFINITY : this.queueDeadlineAt(),
      this.accepted && !this.down ? this.silenceCheckAt() : Number.POSITIVE_INFINITY,
      this.graceAlarmAt(),
    )
    if (due !== this.alarmAt) this.context.alarms.set(this, due)
  }

  /** The alarm rang: a deadline passed, the socket's grace ran out, or the watchdog looks. */
  ring(): void {
    const now = this.now()
    if (now >= this.graceEndsAt()) {
      this.act()
      if (this.closed) return
    }
    if (now >= this.deadlineAt()) {
      return this.fail(new ComfyTimeoutError(this.promptId, this.settings.timeoutMs))
    }
    if (!this.hasStarted() && now >= this.queueDeadlineAt()) {
      this.cancel()
      return this.fail(new ComfyTimeoutError(this.promptId, this.settings.queueTimeoutMs, 'queue'))
    }
    if (this.accepted && !this.down && now >= this.silenceCheckAt()) {
      this.lastAlarmAt = now
      if (this.watching === undefined) this.watch()
      if (this.closed) return
    }
    this.rearm()
  }

  /** Silence: a REST round; a running prompt on a socket silent as long gets the socket reopened. */
  private watch(): void {
    const { stallTimeoutMs } = this.settings
    this.watching = this.run(
      this.rest()
        .round$()
        .pipe(
          tap((input) => {
            const silentFor = this.now() - this.context.lastMessageAt()
            if (
              input.kind === 'queue' &&
              input.queue.state === 'running' &&
              silentFor >= stallTimeoutMs
            ) {
              this.context.reconnect()
            }
          }),
          catchError(nonFatal),
        ),
      () => (this.watching = undefined),
    )
  }

  /**
   * Runs a REST activity into the reducer; an error no retry gets past ends the job. Answers
   * the activity's subscription while it runs, undefined once it has ended.
   */
  private run(source$: Observable<JobInput>, done?: () => void): Subscription | undefined {
    const observer: Partial<Observer<JobInput>> = {
      next: (input) => this.feed(input),
      error: (error: unknown) => this.fail(error),
      complete: () => done?.(),
    }
    const subscription = source$.subscribe(observer)
    if (!this.closed && !subscription.closed) return subscription
    subscription.unsubscribe()
    return undefined
  }

  /** The REST side of the job, with the prompt's id as it is when a call starts. */
  private rest(): RestRounds {
    return new RestRounds(
      this.context,
      this.settings,
      () => this.promptId,
      () => !this.state.graphKnown,
    )
  }

  private abort(): void {
    const { phase } = this
    this.cancel()
    this.fail(new ComfyCancelledError(this.promptId, phase))
  }

  private cancel(): void {
    from(this.context.cancel(this.promptId)).subscribe({ error: () => undefined })
  }

  private fail(error: unknown): void {
    if (this.closed) return
    this.ended = true
    this.dispose()
    this.subscriber.error(error)
  }

  private stopListening(): void {
    if (!this.listening) return
    this.listening = false
    this.context.unroute(this.ownId, this)
    if (this.podId !== undefined) this.context.unroute(this.podId, this)
    this.context.detach(this)
  }

  private dispose(): void {
    if (this.closed) return
    this.closed = true
    this.stopListening()
    this.settings.signal?.removeEventListener('abort', this)
    this.context.prompts.delete(this.ownId, this)
    if (this.podId !== undefined) this.context.prompts.delete(this.podId, this)
    this.context.alarms.clear(this)
    for (const subscription of [
      this.throttle,
      this.posting,
      this.catchingUp,
      this.polling,
      this.reconciling,
      this.watching,
      this.confirming,
    ]) {
      subscription?.unsubscribe()
    }
  }

  /**
   * When the watchdog looks next: `stallTimeoutMs` after the last word or look, rounded up to a
   * tenth of it on the pod-wide grid, so that the idle jobs of a pod look together and share
   * their `GET /queue`.
   */
  private silenceCheckAt(): number {
    const { stallTimeoutMs } = this.settings
    return onGrid(
      Math.max(this.lastHeardAt, this.lastAlarmAt) + stallTimeoutMs,
      stallTimeoutMs / 10,
    )
  }

  private hasStarted(): boolean {
    return this.state.startedAt !== undefined
  }

  private deadlineAt(): number {
    return this.state.submittedAt + this.settings.timeoutMs
  }

  private queueDeadlineAt(): number {
    return this.state.submittedAt + this.settings.queueTimeoutMs
  }

  private now(): number {
    return this.context.scheduler.now()
  }
}
