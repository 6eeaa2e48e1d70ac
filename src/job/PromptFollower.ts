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
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import { isFatalError } from '../errors/isFatalError.js'
import type { ConnectionState } from '../pod/ConnectionState.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { FollowPlan, JobSettings } from './followPrompt.js'
import type { Alarm } from './AlarmClock.js'
import type { JobContext, PodListener } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { progressEvent } from './progressEvent.js'
import { reduceJob, type JobInput, type JobState } from './reduceJob.js'
import { nonFatal, onGrid, RestRounds } from './RestRounds.js'

/** The state a job with `socket: false` acts on: down from the start, polled over REST. */
const NO_SOCKET: ConnectionState = {
  state: 'failed',
  reason: 'the job does not use the socket (socket: false)',
  code: 'unused',
}

/**
 * One job, from subscription to its single end. Socket messages and the REST snapshots of the
 * fallback go through the one reducer; progress is throttled like `throttleTime` (leading and
 * trailing edges) on the state, so a dropped update costs no event. An idle job is this record,
 * its routes and one timer: the pod relays socket states to it, and REST work (polling while the
 * socket is down, a round after each reconnect, the silence watchdog) runs only while needed.
 */
export class PromptFollower implements PodListener, Alarm, Unsubscribable {
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
    if (this.accepted) return this.follow(state)
    // Without a fallback, a prompt is only worth queueing once the socket that reports it is open.
    const ready = state.state === 'open' || (this.settings.restFallback && state.state === 'failed')
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

  lost(error: unknown): void {
    // Otherwise the pod tries the socket again, and polling carries the job meanwhile.
    if (isFatalError(error) || !this.settings.restFallback) this.fail(error)
  }

  /** The signal's `abort` listener (an object, not a closure per job). */
  handleEvent(): void {
    this.abort()
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
    if (promptId !== this.ownId && this.listening) {
      this.podId = promptId
      this.context.route(promptId, this)
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
    const down = state.state === 'failed' ? true : state.state === 'open' ? false : this.down
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
   * One alarm per job, on the pod's clock: the deadlines, and the watchdog's next look at the
   * silence.
   */
  private rearm(): void {
    const due = Math.min(
      this.deadlineAt(),
      this.hasStarted() ? Number.POSITIVE_INFINITY : this.queueDeadlineAt(),
      this.accepted && !this.down ? this.silenceCheckAt() : Number.POSITIVE_INFINITY,
    )
    if (due !== this.alarmAt) this.context.alarms.set(this, due)
  }

  /** The alarm rang: a deadline passed, or the watchdog looks at the silence. */
  ring(): void {
    const now = this.now()
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
    return new RestRounds(this.context, this.settings, () => this.promptId)
  }

  private abort(): void {
    this.cancel()
    this.fail(new ComfyInterruptedError({ prompt_id: this.promptId }))
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
