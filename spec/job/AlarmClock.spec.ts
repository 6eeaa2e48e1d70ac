import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { type Alarm, AlarmClock } from '../../src/job/AlarmClock.js'

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

/** An alarm that records when it rang, under its name. */
function alarm(name: string, rang: string[], scheduler: TestScheduler): Alarm {
  return {
    alarmAt: Number.POSITIVE_INFINITY,
    alarmSlot: -1,
    ring: () => void rang.push(`${name}@${scheduler.now()}`),
  }
}

describe('AlarmClock', () => {
  it('rings each alarm at its time, in time order, on one scheduler timer', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const clock = new AlarmClock(scheduler)
      const rang: string[] = []
      const times = [50, 10, 40, 15, 30, 20, 60, 5]
      times.forEach((at, i) => clock.set(alarm(`a${i}`, rang, scheduler), at))
      expect(clock.size).toBe(8)
      expect(scheduler.actions).toHaveLength(1)
      scheduler.flush()
      expect(rang).toEqual(['a7@5', 'a1@10', 'a3@15', 'a5@20', 'a4@30', 'a2@40', 'a0@50', 'a6@60'])
      expect(clock.size).toBe(0)
      expect(scheduler.actions).toHaveLength(0)
    })
  })

  it('moves an alarm that is set again, and forgets a cleared one', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const clock = new AlarmClock(scheduler)
      const rang: string[] = []
      const a = alarm('a', rang, scheduler)
      const b = alarm('b', rang, scheduler)
      const c = alarm('c', rang, scheduler)
      clock.set(a, 10)
      clock.set(b, 20)
      clock.set(c, 30)
      clock.set(a, 25)
      clock.clear(b)
      clock.clear(b)
      scheduler.flush()
      expect(rang).toEqual(['a@25', 'c@30'])
      expect([a, b, c].map((x) => x.alarmSlot)).toEqual([-1, -1, -1])
    })
  })

  it('keeps its timer when the earliest alarm goes later, and drops it when none is left', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const clock = new AlarmClock(scheduler)
      const rang: string[] = []
      const a = alarm('a', rang, scheduler)
      const b = alarm('b', rang, scheduler)
      clock.set(a, 10)
      clock.set(b, 30)
      const timer = scheduler.actions[0]
      clock.clear(a)
      // The timer for 10 stays: it wakes the clock, which rings nothing and sets it for 30.
      expect(scheduler.actions).toEqual([timer])
      scheduler.flush()
      expect(rang).toEqual(['b@30'])
      clock.set(a, 50)
      clock.clear(a)
      expect(scheduler.actions).toHaveLength(0)
    })
  })

  it('lets a ringing alarm set itself again, and rings what is due together', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const clock = new AlarmClock(scheduler)
      const rang: string[] = []
      const again: Alarm = {
        alarmAt: Number.POSITIVE_INFINITY,
        alarmSlot: -1,
        ring: () => {
          rang.push(`again@${scheduler.now()}`)
          if (scheduler.now() < 30) clock.set(again, scheduler.now() + 10)
        },
      }
      clock.set(again, 10)
      clock.set(alarm('b', rang, scheduler), 20)
      scheduler.flush()
      expect(rang).toEqual(['again@10', 'b@20', 'again@20', 'again@30'])
    })
  })

  it('rings an alarm further away than the longest Node timer at its time, not at once', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const clock = new AlarmClock(scheduler)
      const rang: string[] = []
      const far = 40 * 24 * 3600 * 1000
      clock.set(alarm('far', rang, scheduler), far)
      expect(scheduler.actions[0]?.delay).toBe(2 ** 31 - 1)
      scheduler.flush()
      expect(rang).toEqual([`far@${far}`])
    })
  })
})
