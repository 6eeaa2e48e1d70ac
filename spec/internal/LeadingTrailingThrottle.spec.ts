import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { LeadingTrailingThrottle } from '../../src/internal/LeadingTrailingThrottle.js'

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

/** Feeds `values` at their times through a throttle of `durationMs`; the times each came out. */
function run(
  durationMs: number,
  values: readonly (readonly [number, string])[],
  options: { readonly dropAt?: number; readonly closeAt?: number } = {},
): { out: string[]; closed: number[]; endedAt: number } {
  const scheduler = testScheduler()
  const out: string[] = []
  const closed: number[] = []
  let endedAt = 0
  scheduler.run(({ flush }) => {
    const throttle = new LeadingTrailingThrottle<string>(
      durationMs,
      scheduler,
      (value) => out.push(`${scheduler.now()}:${value}`),
      () => closed.push(scheduler.now()),
    )
    for (const [at, value] of values) scheduler.schedule(() => throttle.next(value), at)
    if (options.dropAt !== undefined) scheduler.schedule(() => throttle.drop(), options.dropAt)
    if (options.closeAt !== undefined)
      scheduler.schedule(() => throttle.unsubscribe(), options.closeAt)
    flush()
    endedAt = scheduler.now()
  })
  return { out, closed, endedAt }
}

describe('LeadingTrailingThrottle', () => {
  it('lets the first value through, keeps the latest of a window, and sends it at its end', () => {
    const { out, closed } = run(10, [
      [0, 'a'],
      [3, 'b'],
      [6, 'c'],
      [14, 'd'],
      [35, 'e'],
    ])
    // a leads; c trails at 10 and opens a window to 20, where d trails; e leads a new window.
    expect(out).toEqual(['0:a', '10:c', '20:d', '35:e'])
    expect(closed).toEqual([10, 20, 30, 45])
  })

  it('lets every value through at once with a duration of 0', () => {
    expect(
      run(0, [
        [0, 'a'],
        [0, 'b'],
        [5, 'c'],
      ]).out,
    ).toEqual(['0:a', '0:b', '5:c'])
  })

  it('forgets a waiting value on drop', () => {
    expect(
      run(
        10,
        [
          [0, 'a'],
          [3, 'b'],
        ],
        { dropAt: 5 },
      ).out,
    ).toEqual(['0:a'])
  })

  it('sends nothing and leaves no timer after unsubscribe', () => {
    const { out, closed, endedAt } = run(
      10,
      [
        [0, 'a'],
        [3, 'b'],
        [12, 'c'],
      ],
      { closeAt: 5 },
    )
    expect(out).toEqual(['0:a'])
    expect(closed).toEqual([])
    expect(endedAt).toBe(12)
  })

  it('opens no window when the taker of a value unsubscribes it', () => {
    const scheduler = testScheduler()
    scheduler.run(({ flush }) => {
      const out: string[] = []
      const throttle: LeadingTrailingThrottle<string> = new LeadingTrailingThrottle(
        10,
        scheduler,
        (value) => {
          out.push(value)
          throttle.unsubscribe()
        },
      )
      throttle.next('a')
      throttle.next('b')
      flush()
      expect(out).toEqual(['a'])
      expect(scheduler.now()).toBe(0)
    })
  })
})
