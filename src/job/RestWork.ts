import { from, type Observable, type ObservableInput, type Observer, type Subscription } from 'rxjs'
import type { JobContext } from './JobContext.js'
import type { JobSettings } from './JobSettings.js'
import type { JobInput } from './JobState.js'
import { RestRounds } from './RestRounds.js'

/**
 * The REST side of a job (`PromptFollower`): its activities, at most one of each kind at a time,
 * each feeding the job's one reducer — sending the prompt, catching up after acceptance, polling
 * while the socket is down, a round after each reopen or shorter queue, the silence watchdog's
 * look, and history's confirmation of the end. A base class rather than an object of its own, so
 * that a job stays one record: an idle job holds no more than its fields.
 */
export abstract class RestWork {
  private posting: Subscription | undefined
  private catchingUp: Subscription | undefined
  private pollingRounds: Subscription | undefined
  private reconciling: Subscription | undefined
  private watching: Subscription | undefined
  private confirming: Subscription | undefined
  /** Whether the socket was open when last seen, since the prompt was accepted. */
  private socketOpen: boolean | undefined
  /** Everything of the job is gone. */
  protected closed = false

  constructor(
    protected readonly context: JobContext,
    protected readonly settings: JobSettings,
  ) {}

  /** The prompt's id now: the job's own until the pod answers with its. */
  abstract currentPromptId(): string
  /** Whether the job still needs the prompt's graph (a tracked prompt's comes from the queue). */
  abstract needsGraph(): boolean
  /** The pod accepted the prompt under this id. */
  protected abstract restAccepted(promptId: string): void
  /** A REST snapshot for the reducer. */
  protected abstract restInput(input: JobInput): void
  /** An error no retry gets past: the job ends with it. */
  protected abstract restFailed(error: unknown): void

  /** Whether the job polls (the socket is down). */
  protected get polling(): boolean {
    return this.pollingRounds !== undefined
  }

  /**
   * Follows the socket: polls while it is `down` (given up on, or not open within the grace),
   * and catches up with one round each time it opens again.
   */
  protected followSocket(open: boolean, down: boolean): void {
    if (down !== this.polling) this.poll(down)
    if (this.closed || open === this.socketOpen) return
    const reopened = this.socketOpen !== undefined && open
    this.socketOpen = open
    // Whatever happened while the socket was away, one REST round catches up with it.
    if (reopened) this.reconcile()
  }

  /** Whether polling or catching up will tell the job where its prompt stands anyway. */
  protected get looking(): boolean {
    return this.pollingRounds !== undefined || this.catchingUp !== undefined
  }

  /** `POST /prompt`, once. */
  protected post(post: () => ObservableInput<{ readonly promptId: string }>): void {
    const posting = from(post()).subscribe({
      next: (answer) => this.restAccepted(answer.promptId),
      error: (error: unknown) => this.restFailed(error),
      complete: () => (this.posting = undefined),
    })
    if (this.closed) posting.unsubscribe()
    else if (!posting.closed) this.posting = posting
  }

  /** Right after acceptance, unless polling already asks first thing. */
  protected catchUp(queuedEarlier: boolean): void {
    if (this.pollingRounds !== undefined) return
    this.catchingUp = this.run(
      this.rounds().catchUp$(queuedEarlier),
      () => (this.catchingUp = undefined),
    )
  }

  private poll(on: boolean): void {
    this.pollingRounds?.unsubscribe()
    this.pollingRounds = on ? this.run(this.rounds().pollRounds$()) : undefined
  }

  /** One round to catch up, unless one is under way. */
  protected reconcile(): void {
    this.reconciling ??= this.run(this.rounds().reconcile$(), () => (this.reconciling = undefined))
  }

  /** The watchdog's look, unless one is under way. */
  protected watch(reconnect: () => void): void {
    this.watching ??= this.run(this.rounds().watch$(reconnect), () => (this.watching = undefined))
  }

  /** History's confirmation of the end the socket signalled. */
  protected confirm(): void {
    this.confirming ??= this.run(this.rounds().confirm$())
  }

  /** Ends every activity (the job has set `closed`). */
  protected stopRest(): void {
    for (const subscription of [
      this.posting,
      this.catchingUp,
      this.pollingRounds,
      this.reconciling,
      this.watching,
      this.confirming,
    ]) {
      subscription?.unsubscribe()
    }
  }

  /** The observables of an activity: made for it, so that an idle job keeps none. */
  private rounds(): RestRounds {
    return new RestRounds(this.context, this.settings, this)
  }

  /**
   * Runs an activity into the job; an error no retry gets past ends the job. Answers the
   * activity's subscription while it runs, undefined once it has ended.
   */
  private run(source$: Observable<JobInput>, done?: () => void): Subscription | undefined {
    const observer: Partial<Observer<JobInput>> = {
      next: (input) => this.restInput(input),
      error: (error: unknown) => this.restFailed(error),
      complete: () => done?.(),
    }
    const subscription = source$.subscribe(observer)
    if (!this.closed && !subscription.closed) return subscription
    subscription.unsubscribe()
    return undefined
  }
}
