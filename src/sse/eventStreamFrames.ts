import {
  Observable,
  type SchedulerAction,
  type Subscriber,
  type Subscription,
  type Unsubscribable,
} from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { isFinal, LatestUpdate } from '../progress/LatestUpdate.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { LeadingTrailingThrottle } from '../internal/LeadingTrailingThrottle.js'
import type { ResolvedServerSentEventsOptions } from './ServerSentEventsOptions.js'

/** What the stream sends next: an update, or a keepalive comment. */
export type EventStreamFrame = { readonly update: ProgressUpdate } | 'keepalive'

/**
 * The frames of a stream: the updates a browser should see (only changes, never backwards, an
 * error as a final `failed` one), `processing` ones throttled like `throttleTime` with leading and
 * trailing edges (the final update never held back, and taking the place of a waiting trailing
 * one), and a keepalive every `keepAliveMs` until the end. One object and one timer per stream:
 * a server holds thousands of them.
 */
export function eventStreamFrames$(
  input$: Observable<JobEvent | ProgressUpdate>,
  options: ResolvedServerSentEventsOptions,
): Observable<EventStreamFrame> {
  return new Observable((subscriber) => {
    const frames = new Frames(options, subscriber)
    frames.start(input$)
    return frames
  })
}

class Frames implements Unsubscribable {
  private readonly latest: LatestUpdate
  private input: Subscription | undefined
  private keepAlive: Subscription | undefined
  private readonly throttle: LeadingTrailingThrottle<ProgressUpdate>
  private inputEnded = false
  private closed = false

  constructor(
    private readonly options: ResolvedServerSentEventsOptions,
    private readonly subscriber: Subscriber<EventStreamFrame>,
  ) {
    this.latest = new LatestUpdate(options)
    this.throttle = new LeadingTrailingThrottle(
      options.throttleMs,
      options.scheduler,
      (update) => subscriber.next({ update }),
      // A trailing update still waiting when the input ended went out: the stream is done.
      () => {
        if (this.inputEnded) this.end()
      },
    )
  }

  start(input$: Observable<JobEvent | ProgressUpdate>): void {
    const input = input$.subscribe({
      next: (value) => this.offer(this.latest.next(value)),
      error: (error: unknown) => {
        this.offer(this.latest.error(error))
        this.end()
      },
      complete: () => {
        // A trailing update still waiting goes out when its throttle window closes.
        this.inputEnded = true
        if (!this.throttle.throttling) this.end()
      },
    })
    if (this.closed) return input.unsubscribe()
    this.input = input
    const { keepAliveMs, scheduler } = this.options
    if (keepAliveMs === Number.POSITIVE_INFINITY) return
    const { subscriber } = this
    this.keepAlive = scheduler.schedule(function (this: SchedulerAction<undefined>) {
      subscriber.next('keepalive')
      this.schedule(undefined, keepAliveMs)
    }, keepAliveMs)
  }

  unsubscribe(): void {
    if (this.closed) return
    this.closed = true
    this.input?.unsubscribe()
    this.keepAlive?.unsubscribe()
    this.throttle.unsubscribe()
  }

  private offer(update: ProgressUpdate | undefined): void {
    if (update === undefined || this.closed) return
    if (update.status === 'processing') return this.throttle.next(update)
    // Every other status skips the wait; a final one takes the place of a waiting update.
    if (isFinal(update)) this.throttle.drop()
    this.subscriber.next({ update })
    if (isFinal(update)) this.end()
  }

  private end(): void {
    if (this.closed) return
    this.subscriber.complete()
  }
}
