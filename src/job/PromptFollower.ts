import { from, type Subscriber, type Unsubscribable } from 'rxjs'
import { ComfyCancelledError, type CancelledPhase } from '../errors/ComfyCancelledError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import { isFatalError } from '../errors/isFatalError.js'
import { LeadingTrailingThrottle } from '../internal/LeadingTrailingThrottle.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import type { PodListener } from '../socket/PodListener.js'
import type { Alarm } from './AlarmClock.js'
import type { CancellableJob } from './FollowedPrompts.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import type { FollowPlan, JobSettings } from './JobSettings.js'
import type { JobInput, JobState } from './JobState.js'
import { progressEvent } from './progressEvent.js'
import { reduceJob } from './reduceJob.js'
import { deferralOf } from './deferralOf.js'
import { deadlineAt, progressTickAt, queueDeadlineAt, silenceCheckAt } from './jobDeadlines.js'
import { RestWork } from './RestWork.js'

/** A job's progress events, from its first change of progress on. */
interface ProgressOutput {
  readonly throttle: LeadingTrailingThrottle<undefined>
  /** `progressVersion` of the state the last event showed. */
  sentVersion: number
  /** Progress events sent. */
  sent: number
  /**
   * A step snapshot held while the throttle holds progress back (`deferralOf`): reduced first
   * by the next input, or when the throttle lets the next value through.
   */
  held: JobInput | undefined
}

/** The state a job with `socket: false` acts on: down from the start, polled over REST. */
const NO_SOCKET: ConnectionState = {
  state: 'failed',
  reason: 'the job does not use the socket (socket: false)',
  code: 'unused',
}

/** What a job knows for yes or no, as bits of `PromptFollower.facts`. */
const Fact = {
  /** The prompt was queued before the job (`trackPrompt`): nothing to send. */
  QueuedEarlier: 1,
  /** The socket's messages of the prompt reach the job. */
  Listening: 2,
  /** The pod took the prompt. */
  Accepted: 4,
  /** A terminal notification was sent. */
  Ended: 8,
  /** The socket has not been open for the pod's `socketGraceMs`. */
  Overdue: 16,
  /** The socket brought the run from its `execution_start`. */
  HeardStart: 32,
  /**
   * The socket may not have given every output: it was not open at some point after the prompt
   * was sent (a missed frame, a reconnect), the job polled, or a cached output node came
   * (`executed` of a cached node, or with no output: §2.8).
   */
  OutputsMissed: 64,
} as const
type Fact = (typeof Fact)[keyof typeof Fact]

/**
 * One job, from subscription to its single end. Socket messages and the REST snapshots of the
 * fallback go through the one reducer. A socket that is not open within `socketGraceMs` — before
 * the prompt is sent or after a drop — is not waited for: the job submits and polls over REST
 * while the pod keeps trying, and returns to the socket after one reconcile round once it opens.
 * Progress is throttled like `throttleTime` (leading and trailing edges) on the state, so a
 * dropped update costs no event, and a snapshot that only moves steps while the throttle holds
 * progress back is not even measured: the next one supersedes it. An idle job is this record,
 * its routes and one alarm: the pod relays socket states to it, and REST work (`RestWork`) is
 * made only when needed.
 */
export class PromptFollower
  extends RestWork
  implements PodListener, CancellableJob, Alarm, Unsubscribable
{
  // The pod's alarm clock keeps its bookkeeping here.
  alarmAt = Number.POSITIVE_INFINITY
  alarmSlot = -1
  private state: JobState
  private readonly ownId: string
  /** `POST /prompt`, until it is sent; absent for a prompt queued earlier. */
  private submit: FollowPlan['submit']
  /** The pod's own id for the prompt, when an old server ignored ours. */
  private podId: string | undefined
  private connectionState: ConnectionState | undefined
  /** Where the watchdog counts silence from: the last message, or its own last look. */
  private quietSince: number
  /** Made with the first progress change: a waiting job has none. */
  private progress: ProgressOutput | undefined
  /** The job's yes/no facts (`Fact`), a bit each: a field costs each of 10,000 waiting jobs. */
  private facts: number = Fact.Listening

  constructor(
    context: JobContext,
    plan: FollowPlan,
    settings: JobSettings,
    private readonly subscriber: Subscriber<JobEvent>,
  ) {
    super(context, settings)
    this.state = plan.initial
    this.ownId = plan.ownId
    this.submit = plan.submit
    if (plan.submit === undefined) this.mark(Fact.QueuedEarlier)
    this.quietSince = plan.initial.submittedAt
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
      this.unmark(Fact.Listening)
      this.connection(NO_SOCKET, false)
    }
    if (this.closed) return
    if (this.is(Fact.QueuedEarlier)) this.accept(this.ownId)
    if (this.closed) return
    this.rearm()
  }

  /** The subscription's teardown. */
  unsubscribe(): void {
    if (this.closed) return
    const pending = !this.is(Fact.Ended)
    this.dispose()
    if (this.settings.cancelOnUnsubscribe && pending) this.cancel()
  }

  message(message: PodMessage): void {
    if (this.closed || !this.is(Fact.Listening)) return
    // When the pod's socket brought it (or the last frame, for one kept from before the route).
    const at = this.context.lastMessageAt()
    this.quietSince = at
    const deferral = deferralOf(this.state, message)
    if (deferral === 'skip') return
    const input: JobInput = { kind: 'message', at, message }
    // Nothing would show it before the throttle lets the next value through.
    const { progress } = this
    if (deferral === 'hold' && progress?.throttle.throttling === true) {
      progress.held = input
      return progress.throttle.next(undefined)
    }
    this.feed(input)
    if (this.closed) return
    switch (message.type) {
      case 'execution_start':
        this.mark(Fact.HeardStart)
        return
      case 'executed':
        if (message.data.output === null || this.state.cachedNodes.includes(message.data.node))
          this.mark(Fact.OutputsMissed)
        return
      case 'executing':
        // `executing {node: null}`: the socket's last word on the prompt (§3.7). History confirms
        // only when the socket may not have given every output; otherwise the job ends on what
        // the socket said, as after a history that cannot be read.
        if (message.data.node !== null) return
        this.stopListening()
        if (this.is(Fact.HeardStart) && !this.is(Fact.OutputsMissed)) {
          this.feed({ kind: 'history', at, source: 'websocket', entry: undefined })
        } else {
          this.confirm()
        }
    }
  }

  connection(state: ConnectionState, overdue: boolean): void {
    if (this.closed) return
    if (state.state !== 'open' && this.submit === undefined) this.mark(Fact.OutputsMissed)
    this.connectionState = state
    if (overdue) this.mark(Fact.Overdue)
    else this.unmark(Fact.Overdue)
    this.act()
  }

  lost(error: unknown): void {
    // Otherwise the pod tries the socket again, and polling carries the job meanwhile.
    if (isFatalError(error) || !this.settings.restFallback) this.fail(error)
  }

  queueShrank(): void {
    // Only a prompt still waiting can have been deleted unannounced; a running one ends with a
    // message, and a job on REST polls anyway.
    if (this.closed || !this.is(Fact.Accepted) || this.phase === 'running' || this.polling) return
    if (!this.looking) this.reconcile()
  }

  cancelled(phase: CancelledPhase | undefined): void {
    this.fail(new ComfyCancelledError(this.promptId, phase ?? this.phase))
  }

  get phase(): CancelledPhase {
    return this.state.startedAt === undefined ? 'pending' : 'running'
  }

  /** The signal's `abort` listener (an object, not a closure per job). */
  handleEvent(): void {
    this.abort()
  }

  /** Acts on the socket as it is now: sends the prompt when it may, or follows the socket. */
  private act(): void {
    const state = this.connectionState
    if (state === undefined) return
    if (this.is(Fact.Accepted)) return this.follow(state)
    // Without a fallback, a prompt is only worth queueing once the socket that reports it is open.
    const ready = state.state === 'open' || this.socketDown()
    const { submit } = this
    if (ready && submit !== undefined) {
      // Sent once.
      this.submit = undefined
      this.post(submit)
    }
  }

  /**
   * Whether the job goes on over REST: the pod gave up on the socket, or it has not been open
   * for the pod's `socketGraceMs`. Never without the fallback.
   */
  private socketDown(): boolean {
    if (!this.settings.restFallback) return false
    return this.is(Fact.Overdue) || this.connectionState?.state === 'failed'
  }

  private accept(answered: string): void {
    if (this.closed || this.is(Fact.Accepted)) return
    this.mark(Fact.Accepted)
    // The pod's answer is an equal string of its own: the job keeps one copy.
    if (answered !== this.ownId) this.podId = answered
    const { promptId } = this
    this.feed({ kind: 'accepted', at: this.now(), promptId })
    if (this.closed) return
    // An old server ignores our id and picks its own: follow that one too, from the messages
    // that came before its answer.
    if (promptId !== this.ownId) {
      this.context.prompts.add(promptId, this)
      if (this.is(Fact.Listening)) this.context.route(promptId, this)
      if (this.closed) return
    }
    if (this.connectionState !== undefined) this.follow(this.connectionState)
    if (this.closed) return
    // Polling, once started, asks where the prompt stands first thing.
    this.catchUp(this.is(Fact.QueuedEarlier))
    if (this.closed) return
    this.rearm()
  }

  /** After acceptance: REST follows the socket (`RestWork.follow`); the watchdog waits meanwhile. */
  private follow(state: ConnectionState): void {
    const polled = this.polling
    this.followSocket(state.state === 'open', this.socketDown())
    if (this.polling) this.mark(Fact.OutputsMissed)
    if (!this.closed && this.polling !== polled) this.rearm()
  }

  private feed(input: JobInput): void {
    if (this.closed) return
    this.release()
    this.reduce(input)
    if (!this.closed && this.state.progressVersion !== (this.progress?.sentVersion ?? 0))
      this.progressChanged()
  }

  /** Reduces the snapshot held back, if any. */
  private release(): void {
    const { progress } = this
    if (progress?.held === undefined) return
    const input = progress.held
    progress.held = undefined
    this.reduce(input)
  }

  /** One step of the reducer, and its outputs. */
  private reduce(input: JobInput): void {
    if (this.closed) return
    const step = reduceJob(this.state, input)
    this.state = step.state
    for (const event of step.events) {
      if (event.type === 'failed') return this.fail(event.error)
      if (event.type === 'timed') {
        this.context.costModel.learn(event.run)
        continue
      }
      this.emit(event)
      if (this.closed) return
    }
  }

  private emit(event: JobEvent): void {
    switch (event.type) {
      case 'progress':
        // The final 100: never held back, and no trailing update may follow it.
        this.progress?.throttle.drop()
        this.progressOutput().sent++
        this.subscriber.next(event)
        return
      case 'completed': {
        const result = { ...event.result, progressUpdates: this.progress?.sent ?? 0 }
        this.mark(Fact.Ended)
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
    this.progressOutput().throttle.next(undefined)
  }

  private progressOutput(): ProgressOutput {
    this.progress ??= {
      throttle: new LeadingTrailingThrottle(
        this.settings.progressThrottleMs,
        this.context.scheduler,
        () => this.sendProgress(),
      ),
      sentVersion: 0,
      sent: 0,
      held: undefined,
    }
    return this.progress
  }

  private sendProgress(): void {
    this.release()
    const progress = this.progressOutput()
    if (this.closed || this.state.progressVersion === progress.sentVersion) return
    progress.sentVersion = this.state.progressVersion
    progress.sent++
    this.subscriber.next(progressEvent(this.state))
  }

  /**
   * One alarm per job, on the pod's clock: the deadlines, and the watchdog's next look at the
   * silence.
   */
  private rearm(): void {
    const due = Math.min(
      deadlineAt(this.state, this.settings),
      queueDeadlineAt(this.state, this.settings),
      this.watchdogAt(),
      this.tickAt(),
    )
    if (due !== this.alarmAt) this.context.alarms.set(this, due)
  }

  /** The alarm rang: a deadline passed, or the watchdog looks at the silence. */
  ring(): void {
    const now = this.now()
    if (now >= deadlineAt(this.state, this.settings)) {
      return this.fail(new ComfyTimeoutError(this.promptId, this.settings.timeoutMs))
    }
    if (now >= queueDeadlineAt(this.state, this.settings)) {
      this.cancel()
      return this.fail(new ComfyTimeoutError(this.promptId, this.settings.queueTimeoutMs, 'queue'))
    }
    if (now >= this.watchdogAt()) {
      this.quietSince = now
      this.watch(() => this.context.reconnect())
      if (this.closed) return
    }
    if (now >= this.tickAt()) {
      this.feed({ kind: 'tick', at: now })
      if (this.closed) return
    }
    this.rearm()
  }

  /** The next measure of progress by time alone, while the socket carries the running prompt. */
  private tickAt(): number {
    if (!this.is(Fact.Listening) || this.polling) return Number.POSITIVE_INFINITY
    return progressTickAt(this.state, this.settings)
  }

  currentPromptId(): string {
    return this.promptId
  }

  /** The prompt's id: the job's own, or the pod's when an old server ignored ours. */
  private get promptId(): string {
    return this.podId ?? this.ownId
  }

  needsGraph(): boolean {
    return !this.state.graphKnown
  }

  protected restAccepted(promptId: string): void {
    this.accept(promptId)
  }

  protected restInput(input: JobInput): void {
    this.feed(input)
  }

  protected restFailed(error: unknown): void {
    this.fail(error)
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
    this.mark(Fact.Ended)
    this.dispose()
    this.subscriber.error(error)
  }

  private stopListening(): void {
    if (!this.is(Fact.Listening)) return
    this.unmark(Fact.Listening)
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
    if (this.progress !== undefined) {
      this.progress.throttle.unsubscribe()
      this.progress.held = undefined
    }
    this.stopRest()
  }

  /** The watchdog's next look at the silence, while the job follows its prompt over the socket. */
  private watchdogAt(): number {
    if (!this.is(Fact.Accepted) || this.polling) return Number.POSITIVE_INFINITY
    return silenceCheckAt(this.quietSince, this.settings.stallTimeoutMs)
  }

  private is(fact: Fact): boolean {
    return (this.facts & fact) !== 0
  }

  private mark(fact: Fact): void {
    this.facts |= fact
  }

  private unmark(fact: Fact): void {
    this.facts &= ~fact
  }

  private now(): number {
    return this.context.scheduler.now()
  }
}
