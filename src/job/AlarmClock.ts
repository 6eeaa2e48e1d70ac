import type { SchedulerLike, Subscription } from 'rxjs'

/** Node's longest timer (about 24.8 days); a longer one would fire at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1

/** Something an `AlarmClock` wakes; the clock keeps its bookkeeping in the two fields. */
export interface Alarm {
  /** Scheduler time it rings at; `Infinity` while not set. */
  alarmAt: number
  /** Its place in the clock's heap; -1 while not set. */
  alarmSlot: number
  ring(): void
}

/**
 * One timer for many alarms: a binary min-heap by time, with the scheduler's timer set for the
 * earliest. An alarm costs a heap slot rather than a timer of its own, and setting it again
 * moves it in O(log n).
 */
export class AlarmClock {
  private readonly heap: Alarm[] = []
  private timer: Subscription | undefined
  private timerAt = Number.POSITIVE_INFINITY

  constructor(private readonly scheduler: SchedulerLike) {}

  /** Number of alarms set. */
  get size(): number {
    return this.heap.length
  }

  /** Rings `alarm` at scheduler time `at`, instead of any time set before; `Infinity` clears it. */
  set(alarm: Alarm, at: number): void {
    if (alarm.alarmSlot >= 0) this.remove(alarm)
    if (Number.isFinite(at)) {
      alarm.alarmAt = at
      alarm.alarmSlot = this.heap.length
      this.heap.push(alarm)
      this.up(alarm.alarmSlot)
    }
    this.arm()
  }

  clear(alarm: Alarm): void {
    this.set(alarm, Number.POSITIVE_INFINITY)
  }

  private remove(alarm: Alarm): void {
    const slot = alarm.alarmSlot
    const last = this.heap.pop()!
    alarm.alarmSlot = -1
    alarm.alarmAt = Number.POSITIVE_INFINITY
    if (last === alarm) return
    this.heap[slot] = last
    last.alarmSlot = slot
    this.down(slot)
    this.up(last.alarmSlot)
  }

  /**
   * Sets the timer for the earliest alarm. A timer set for an earlier time than that is kept: it
   * wakes the clock for nothing and is set again then, which costs less than setting it again
   * each time the earliest alarm goes (every job that ends); none is kept without an alarm.
   */
  private arm(): void {
    const at = this.heap[0]?.alarmAt ?? Number.POSITIVE_INFINITY
    if (at === this.timerAt || (at > this.timerAt && Number.isFinite(at))) return
    this.timer?.unsubscribe()
    this.timer = undefined
    this.timerAt = at
    if (!Number.isFinite(at)) return
    this.timer = this.scheduler.schedule(
      () => {
        this.timer = undefined
        this.timerAt = Number.POSITIVE_INFINITY
        this.ringDue()
      },
      // An alarm further away wakes the clock early, and it sets its timer again.
      Math.min(LONGEST_TIMER_MS, Math.max(0, at - this.scheduler.now())),
    )
  }

  private ringDue(): void {
    const now = this.scheduler.now()
    for (let head = this.heap[0]; head !== undefined && head.alarmAt <= now; head = this.heap[0]) {
      this.remove(head)
      head.ring()
    }
    this.arm()
  }

  private up(slot: number): void {
    const { heap } = this
    const alarm = heap[slot]!
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1
      const parent = heap[parentSlot]!
      if (parent.alarmAt <= alarm.alarmAt) break
      heap[slot] = parent
      parent.alarmSlot = slot
      slot = parentSlot
    }
    heap[slot] = alarm
    alarm.alarmSlot = slot
  }

  private down(slot: number): void {
    const { heap } = this
    const alarm = heap[slot]!
    for (;;) {
      const left = 2 * slot + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && heap[right]!.alarmAt < heap[left]!.alarmAt ? right : left
      if (heap[child]!.alarmAt >= alarm.alarmAt) break
      heap[slot] = heap[child]!
      heap[slot]!.alarmSlot = slot
      slot = child
    }
    heap[slot] = alarm
    alarm.alarmSlot = slot
  }
}
