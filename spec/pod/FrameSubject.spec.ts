import { share, type Subscription } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { FrameSubject } from '../../src/pod/FrameSubject.js'

describe('FrameSubject', () => {
  it('gives each value to every observer, in the order they came', () => {
    const subject = new FrameSubject<number>()
    const seen: string[] = []
    subject.subscribe((value) => seen.push(`a${value}`))
    subject.subscribe((value) => seen.push(`b${value}`))
    subject.next(1)
    subject.next(2)
    expect(seen).toEqual(['a1', 'b1', 'a2', 'b2'])
  })

  it('lets no observer miss a value when another leaves while it is given', () => {
    const subject = new FrameSubject<number>()
    const seen: string[] = []
    let first: Subscription | undefined = undefined
    first = subject.subscribe((value) => {
      seen.push(`a${value}`)
      first?.unsubscribe()
    })
    subject.subscribe((value) => seen.push(`b${value}`))
    subject.next(1)
    subject.next(2)
    expect(seen).toEqual(['a1', 'b1', 'b2'])
  })

  it('ends every observer with its error, ignores values after it, and tells observers that come later', () => {
    const subject = new FrameSubject<number>()
    const errors: unknown[] = []
    const values: number[] = []
    subject.subscribe({ next: (value) => values.push(value), error: (error) => errors.push(error) })
    const boom = new Error('boom')
    subject.error(boom)
    subject.next(1)
    subject.complete()
    subject.subscribe({ next: (value) => values.push(value), error: (error) => errors.push(error) })
    expect(values).toEqual([])
    expect(errors).toEqual([boom, boom])
  })

  it('multicasts a source for share, in virtual time: values, late subscribers, unsubscription, completion', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
      ({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-b-c-d-|')
        const shared = source.pipe(share({ connector: () => new FrameSubject<string>() }))
        expectObservable(shared, '^-----!').toBe('-a-b-c')
        expectObservable(shared, '--^').toBe('---b-c-d-|')
        expectSubscriptions(source.subscriptions).toBe('^--------!')
      },
    )
  })

  it('ends a source that never emits with its subscribers, and completes an empty one at once', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
      ({ cold, expectObservable, expectSubscriptions }) => {
        const never = cold('-')
        expectObservable(never.pipe(share({ connector: () => new FrameSubject() })), '^--!').toBe(
          '---',
        )
        expectSubscriptions(never.subscriptions).toBe('^--!')
        const empty = cold('|')
        expectObservable(empty.pipe(share({ connector: () => new FrameSubject() }))).toBe('|')
      },
    )
  })
})
