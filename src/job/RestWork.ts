import {
  from,
  type Observable,
  type ObservableInput,
  type Observer,
  type Subscription,
  type Unsubscribable,
} from 'rxjs'
import type { JobContext } from './JobContext.js'
import type { JobSettings } from './JobSettings.js'
import type { JobInput } from './JobState.js'
import { RestRounds } from './RestRounds.js'

/** The job a `RestWork` works for; the job itself, so that it costs no closures. */
export interface RestWorkOwner {
  /** The prompt's id now: the job's own until the pod answers with its. */
  currentPromptId(): string
  /** Whether the job still needs the prompt's graph (a tracked prompt's comes from the queue). */
  needsGraph(): boolean
  /** The pod accepted the prompt under this id. */
  restAccepted(promptId: string): void
  /** A REST snapshot for the reducer. */
  restInput(input: JobInput): void
  /** An error no retry gets past: the job ends with it. */
  restFailed(error: unknown): void
}

/**
 * The REST activities of one job, at most one of each kind at a time, each feeding the job's one
 * reducer: sending the prompt, catching up after acceptance, polling while the socket is down, a round after each
 * reopen or shorter queue, the silence watchdog's look, and history's confirmation of the end.
 * Made with the job's first REST activity, so a job that never needs one holds none.
 */
export class RestWork implements Unsubscribable {
  private readonly rounds: RestRounds
  private posting: Subscription | undefined
  private catchingUp: Subscription | undefined
  private polling: Subscription | undefined
  private reconciling: Subscription | undefined
  private watching: Subscription | undefined
  private confirming: Subscription | undefined
  private closed = false

  constructor(
    context: JobContext,
    settings: JobSettings,
    private readonly owner: RestWorkOwner,
  ) {
    this.rounds = new RestRounds(
      context,
      settings,
      () => owner.currentPromptId(),
      () => owner.needsGraph(),
    )
  }

  /** Whether polling or catching up will tell the job where its prompt stands anyway. */
  get looking(): boolean {
    return this.polling !== undefined || this.catchingUp !== undefined
  }

  /** `POST /prompt`, once. */
  submit(post: () => ObservableInput<{ readonly promptId: string }>): void {
    const { owner } = this
    const posting = from(post()).subscribe({
      next: (answer) => owner.restAccepted(answer.promptId),
      error: (error: unknown) => owner.restFailed(error),
      complete: () => (this.posting = undefined),
    })
    if (this.closed) posting.unsubscribe()
    else if (!posting.closed) this.posting = posting
  }

  /** Right after acceptance, unless polling already asks first thing. */
  catchUp(queuedEarlier: boolean): void {
    if (this.polling !== undefined) return
    this.catchingUp = this.run(
      this.rounds.catchUp$(queuedEarlier),
      () => (this.catchingUp = undefined),
    )
  }

  /** Polls while `on`: from now on, or no longer. */
  poll(on: boolean): void {
    this.polling?.unsubscribe()
    this.polling = on ? this.run(this.rounds.pollRounds$()) : undefined
  }

  /** One round to catch up, unless one is under way. */
  reconcile(): void {
    this.reconciling ??= this.run(this.rounds.reconcile$(), () => (this.reconciling = undefined))
  }

  /** The watchdog's look, unless one is under way. */
  watch(reconnect: () => void): void {
    this.watching ??= this.run(this.rounds.watch$(reconnect), () => (this.watching = undefined))
  }

  /** History's confirmation of the end the socket signalled. */
  confirm(): void {
    this.confirming ??= this.run(this.rounds.confirm$())
  }

  unsubscribe(): void {
    if (this.closed) return
    this.closed = true
    for (const subscription of [
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
   * Runs an activity into the job; an error no retry gets past ends the job. Answers the
   * activity's subscription while it runs, undefined once it has ended.
   */
  private run(source$: Observable<JobInput>, done?: () => void): Subscription | undefined {
    const { owner } = this
    const observer: Partial<Observer<JobInput>> = {
      next: (input) => owner.restInput(input),
      error: (error: unknown) => owner.restFailed(error),
      complete: () => done?.(),
    }
    const subscription = source$.subscribe(observer)
    if (!this.closed && !subscription.closed) return subscription
    subscription.unsubscribe()
    return undefined
  }
}
