import { lastValueFrom, toArray } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import { done, P, processing } from '../sse/jobEvents.js'

const testScheduler = () =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

const queued: ProgressUpdate = { promptId: P, status: 'queued', progress: 0, queuePosition: 0 }

describe('InMemoryProgressStore', () => {
  it('keeps the latest update of each prompt', async () => {
    const store = new InMemoryProgressStore()
    await store.save(queued)
    await store.save(processing(40))
    await store.save({ ...processing(5), promptId: 'other' })
    expect(await store.latest(P)).toEqual(processing(40))
    expect(await store.latest('other')).toEqual({ ...processing(5), promptId: 'other' })
    expect(await store.latest('unknown')).toBeUndefined()
  })

  it('never goes back: older statuses, less progress and anything after the end are refused', async () => {
    const store = new InMemoryProgressStore()
    const seen: ProgressUpdate[] = []
    store.watch$(P).subscribe((update) => seen.push(update))
    for (const update of [
      processing(40),
      queued,
      processing(30),
      processing(50),
      done,
      processing(60),
    ])
      await store.save(update)
    expect(await store.latest(P)).toEqual(done)
    expect(seen).toEqual([processing(40), processing(50), done])
  })

  it('forgets a prompt ttlMs after its last change', async () => {
    const scheduler = testScheduler()
    // Read at 5, 18 and 19 ms (the value is taken when read; the promises are awaited after).
    const reads: Promise<ProgressUpdate | undefined>[] = []
    scheduler.run(({ cold }) => {
      const store = new InMemoryProgressStore({ ttlMs: 10, scheduler })
      cold('a 8ms b', { a: processing(10), b: processing(20) }).subscribe(
        (update) => void store.save(update),
      )
      cold('5ms x 12ms x x').subscribe(() => reads.push(store.latest(P)))
    })
    expect(await Promise.all(reads)).toEqual([processing(10), processing(20), undefined])
  })

  it('keeps at most maxPrompts, forgetting the one changed least recently', async () => {
    const store = new InMemoryProgressStore({ maxPrompts: 2 })
    await store.save({ ...processing(1), promptId: 'a' })
    await store.save({ ...processing(1), promptId: 'b' })
    await store.save({ ...processing(2), promptId: 'a' })
    await store.save({ ...processing(1), promptId: 'c' })
    expect(await store.latest('a')).toBeDefined()
    expect(await store.latest('b')).toBeUndefined()
    expect(await store.latest('c')).toBeDefined()
  })

  it('completes its watchers and diagnostics$ when closed, and ignores writes after', async () => {
    const store = new InMemoryProgressStore()
    await store.save(processing(10))
    const watched = lastValueFrom(store.watch$(P).pipe(toArray()))
    const diagnostics = lastValueFrom(store.diagnostics$.pipe(toArray()))
    await store.close()
    await store.close()
    await store.save(processing(20))
    expect(await watched).toEqual([processing(10)])
    expect(await diagnostics).toEqual([])
    expect(await store.latest(P)).toEqual(processing(10))
    expect(await lastValueFrom(store.watch$(P).pipe(toArray()))).toEqual([])
  })

  it('throws a TypeError naming an invalid option', () => {
    expect(() => new InMemoryProgressStore({ ttlMs: 0 })).toThrow(
      new TypeError('ttlMs must be a number > 0, received 0'),
    )
    expect(() => new InMemoryProgressStore({ maxPrompts: 1.5 })).toThrow(
      new TypeError('maxPrompts must be an integer >= 1, received 1.5'),
    )
  })
})
