import type { SchedulerLike, Subscription, Unsubscribable } from 'rxjs'

/**
 * `throttleTime(durationMs, scheduler, { leading: true, trailing: true })` for an object that
 * owns one stream: a value passes at once when no window is open and opens one; while a window
 * is open the latest value waits, and passes when the window closes, opening the next. Not an
 * operator because its users (a job, an SSE stream) are single objects held by the thousand, and
 * decide themselves when a value must skip the wait (`drop`, then send it directly). A duration of
 * 0 lets every value through.
 */
export class LeadingTrailingThrottle<T> implements Unsubscribable {
  private window: Subscription | undefined
  private waiting = false
  private value: T | undefined
  private closed = false

  constructor(
    private readonly durationMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly emit: (value: T) => void,
    /** Called each time a window closes, after its trailing value (if any) went out. */
    private readonly windowClosed?: () => void,
  ) {}

  /** Whether a window is open (a value given now would wait). */
  get throttling(): boolean {
    return this.window !== undefined
  }

  next(value: T): void {
    if (this.closed) return
    if (this.durationMs === 0) return this.emit(value)
    if (this.window !== undefined) {
      this.waiting = true
      this.value = value
      return
    }
    this.emit(value)
    // Whoever took the value may have ended the stream.
    if (!this.closed) this.open()
  }

  /** Forgets the value waiting for the window to close. */
  drop(): void {
    this.waiting = false
    this.value = undefined
  }

  unsubscribe(): void {
    this.closed = true
    this.window?.unsubscribe()
    this.window = undefined
    this.drop()
  }

  private open(): void {
    this.window = this.scheduler.schedule(() => {
      this.window = undefined
      if (this.waiting) {
        const value = this.value as T
        this.drop()
        this.emit(value)
        if (!this.closed) this.open()
      }
      if (!this.closed) this.windowClosed?.()
    }, this.durationMs)
  }
}
