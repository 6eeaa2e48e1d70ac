import { NEVER, type Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import type { ProgressStore } from '../../src/store/ProgressStore.js'
import { watchProgress$ } from '../../src/store/watchProgress.js'
import { done, P, processing } from '../sse/jobEvents.js'

const testScheduler = () =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

const queued: ProgressUpdate = { promptId: P, status: 'queued', progress: 0, queuePosition: 1 }
const failed: ProgressUpdate = {
  promptId: P,
  status: 'failed',
  progress: 20,
  message: 'A step of the workflow failed on the server.',
  errorName: 'ComfyExecutionError',
}

/** A store whose `watch$` is the test's Observable (a store may repeat or reorder updates). */
function storeWatching(watch$: Observable<ProgressUpdate>): ProgressStore {
  return Object.assign(new InMemoryProgressStore(), { watch$: () => watch$ })
}

describe('watchProgress$', () => {
  it('gives the latest state at once, then each change, and completes after the final one', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const store = new InMemoryProgressStore({ scheduler })
      void store.save(processing(30))
      cold('--a--b--c--d', {
        a: processing(50),
        b: processing(80),
        c: done,
        d: processing(90),
      }).subscribe((update) => void store.save(update))
      expectObservable(watchProgress$(store, P)).toBe('x-a--b--(c|)', {
        x: processing(30),
        a: processing(50),
        b: processing(80),
        c: done,
      })
    })
  })

  it('ends with a failed update as with a completed one', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const store = new InMemoryProgressStore({ scheduler })
      cold('a-b', { a: processing(20), b: failed }).subscribe((update) => void store.save(update))
      expectObservable(watchProgress$(store, P)).toBe('a-(b|)', { a: processing(20), b: failed })
    })
  })

  it('gives a finished prompt its final state, and completes at once', () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable }) => {
      const store = new InMemoryProgressStore({ scheduler })
      void store.save(done)
      expectObservable(watchProgress$(store, P)).toBe('(c|)', { c: done })
    })
  })

  it("waits for an unknown prompt's first update", () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const store = new InMemoryProgressStore({ scheduler })
      cold('-----q', { q: queued }).subscribe((update) => void store.save(update))
      expectObservable(watchProgress$(store, P), '^-------!').toBe('-----q', { q: queued })
    })
  })

  it('drops repeated and older updates, and those of other prompts', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const other: ProgressUpdate = { ...processing(99), promptId: 'another' }
      const source = cold('a-a-o-q-b-a-c-d', {
        a: processing(40),
        o: other,
        q: queued,
        b: processing(60),
        c: done,
        d: processing(70),
      })
      expectObservable(watchProgress$(storeWatching(source), P)).toBe('a-------b---(c|)', {
        a: processing(40),
        b: processing(60),
        c: done,
      })
    })
  })

  it("stops watching the store when unsubscribed, and once the prompt's end is in", () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const endless = cold<ProgressUpdate>('a---', { a: processing(10) })
      expectObservable(watchProgress$(storeWatching(endless), P), '^--!').toBe('a--', {
        a: processing(10),
      })
      expectSubscriptions(endless.subscriptions).toBe('^--!')
      const finished = cold('a-c---', { a: processing(10), c: done })
      expectObservable(watchProgress$(storeWatching(finished), P)).toBe('a-(c|)', {
        a: processing(10),
        c: done,
      })
      expectSubscriptions(finished.subscriptions).toBe('^-!')
    })
  })

  it('completes without a final update when the store is closed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const store = new InMemoryProgressStore({ scheduler })
      void store.save(processing(10))
      cold('---x').subscribe(() => void store.close())
      expectObservable(watchProgress$(store, P)).toBe('a--|', { a: processing(10) })
    })
  })

  it('is cold: the store is asked nothing before subscription', () => {
    let asked = 0
    const store = Object.assign(new InMemoryProgressStore(), {
      watch$: () => {
        asked++
        return NEVER
      },
    })
    const watched$ = watchProgress$(store, P)
    expect(asked).toBe(0)
    watched$.subscribe().unsubscribe()
    expect(asked).toBe(1)
  })

  it('throws a TypeError for an invalid store or promptId', () => {
    const store = new InMemoryProgressStore()
    expect(() => watchProgress$(store, '')).toThrow(
      new TypeError('promptId must be a non-empty string, received ""'),
    )
    expect(() => watchProgress$(null as never, P)).toThrow(
      new TypeError('store must be a ProgressStore, received null'),
    )
  })
})
