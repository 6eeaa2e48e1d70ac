import { finalize, NEVER, Observable, Subject } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { ComfyTimeoutError } from '../../src/index.js'
import { encodeEvent, EventStreamSession } from '../../src/sse/eventStream.js'
import { eventStreamFrames$, type EventStreamFrame } from '../../src/sse/eventStreamFrames.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import {
  resolveServerSentEventsOptions,
  type ServerSentEventsOptions,
} from '../../src/sse/ServerSentEventsOptions.js'
import { done, P, processing } from './jobEvents.js'

const testScheduler = () =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

const queuedUpdate: ProgressUpdate = {
  promptId: P,
  status: 'queued',
  progress: 0,
  queuePosition: 0,
}

function frames(options: ServerSentEventsOptions) {
  return (input$: Observable<ProgressUpdate>) =>
    eventStreamFrames$(input$, resolveServerSentEventsOptions(options))
}

const update = (value: ProgressUpdate): EventStreamFrame => ({ update: value })

describe('eventStreamFrames$ (virtual time)', () => {
  it('sends a keepalive every keepAliveMs until the final update', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const updates = cold('a 24ms b 4ms c', { a: processing(10), b: processing(20), c: done })
      expectObservable(updates.pipe(frames({ keepAliveMs: 12, scheduler }))).toBe(
        'a 11ms k 11ms k b 4ms (c|)',
        {
          a: update(processing(10)),
          b: update(processing(20)),
          c: update(done),
          k: 'keepalive',
        },
      )
    })
  })

  it('keeps a quiet stream alive until it is unsubscribed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const never = cold<ProgressUpdate>('-')
      expectObservable(never.pipe(frames({ keepAliveMs: 10, scheduler })), '^ 35ms !').toBe(
        '10ms k 9ms k 9ms k',
        { k: 'keepalive' },
      )
      expectSubscriptions(never.subscriptions).toBe('^ 35ms !')
    })
  })

  it('sends no keepalive with keepAliveMs Infinity, and ends at once on an empty source', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(
        cold<ProgressUpdate>('-').pipe(frames({ keepAliveMs: Infinity, scheduler })),
        '^ 100ms !',
      ).toBe('-')
      expectObservable(cold<ProgressUpdate>('|').pipe(frames({ scheduler }))).toBe('|')
    })
  })

  it('throttles processing updates, never queued nor the final one, which drops a waiting trailing one', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const updates = cold('q p 1ms p 1ms p 6ms p 1ms f', {
        q: queuedUpdate,
        p: undefined,
        f: done,
      })
      // Increasing progress for each `p`, so that each one is a change.
      let value = 0
      const input = new Observable<ProgressUpdate>((subscriber) =>
        updates.subscribe({
          next: (next) => subscriber.next(next ?? processing(++value * 10)),
          complete: () => subscriber.complete(),
        }),
      )
      expectObservable(
        input.pipe(frames({ throttleMs: 10, keepAliveMs: Infinity, scheduler })),
      ).toBe('q p 9ms t 2ms (f|)', {
        q: update(queuedUpdate),
        p: update(processing(10)),
        t: update(processing(30)),
        f: update(done),
      })
    })
  })

  it('sends a trailing update still waiting when its source ends, then completes', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const updates = cold('a 1ms b 1ms c|', {
        a: processing(10),
        b: processing(20),
        c: processing(30),
      })
      expectObservable(updates.pipe(frames({ throttleMs: 10, keepAliveMs: 4, scheduler }))).toBe(
        'a 3ms k 3ms k 1ms (c|)',
        {
          a: update(processing(10)),
          c: update(processing(30)),
          k: 'keepalive',
        },
      )
    })
  })

  it('turns an error into a final failed update', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const updates = cold('a 4ms #', { a: processing(60) }, new ComfyTimeoutError(P, 1000))
      expectObservable(updates.pipe(frames({ keepAliveMs: Infinity, scheduler }))).toBe(
        'a 4ms (f|)',
        {
          a: update(processing(60)),
          f: update({
            promptId: P,
            status: 'failed',
            progress: 60,
            message: 'The image took too long to generate and was stopped.',
            errorName: 'ComfyTimeoutError',
          }),
        },
      )
    })
  })
})

/** A sink that records what is written, and is full while `full` is true. */
class FakeSink {
  readonly chunks: string[] = []
  ended = false
  full = false

  write(chunk: string): boolean {
    this.chunks.push(chunk)
    return !this.full
  }

  end(): void {
    this.ended = true
  }
}

function session(sink: FakeSink, options: ServerSentEventsOptions = {}, lastEventId?: string) {
  return new EventStreamSession(
    sink,
    resolveServerSentEventsOptions({ keepAliveMs: Infinity, ...options }),
    lastEventId,
  )
}

describe('EventStreamSession', () => {
  it('sends the retry hint, then events with increasing ids, then ends after the final one', () => {
    const updates = new Subject<ProgressUpdate>()
    const sink = new FakeSink()
    session(sink, { retryMs: 2500 }).start(updates)
    updates.next(processing(10))
    updates.next(processing(20))
    updates.next(done)
    expect(sink.chunks).toEqual([
      'retry: 2500\n\n',
      encodeEvent(1, processing(10)),
      encodeEvent(2, processing(20)),
      encodeEvent(3, done),
    ])
    expect(encodeEvent(3, done)).toBe(`id: 3\nevent: completed\ndata: ${JSON.stringify(done)}\n\n`)
    expect(sink.ended).toBe(true)
  })

  it("goes on from a reconnecting browser's Last-Event-ID", () => {
    const sink = new FakeSink()
    session(sink, {}, '41').start(new Subject<ProgressUpdate>().pipe(startWithLatest))
    expect(sink.chunks[1]).toBe(encodeEvent(42, processing(70)))
    const other = new FakeSink()
    session(other, {}, 'not-a-number').start(new Subject<ProgressUpdate>().pipe(startWithLatest))
    expect(other.chunks[1]).toBe(encodeEvent(1, processing(70)))
  })

  it('keeps only the latest update for a slow reader, skips keepalives, and sends the final one', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const sink = new FakeSink()
      const stream = session(sink, { keepAliveMs: 5, scheduler })
      const updates = new Subject<ProgressUpdate>()
      stream.start(updates)
      sink.full = true
      updates.next(processing(0.1)) // written; the sink is now full
      for (let value = 2; value <= 990; value++) updates.next(processing(value / 10))
      // 20 ms later: four keepalive ticks went by while the sink was full.
      scheduler.schedule(() => {
        expect(sink.chunks).toEqual(['retry: 3000\n\n', encodeEvent(1, processing(0.1))])

        sink.full = false
        stream.drain()
        expect(sink.chunks.slice(2)).toEqual([encodeEvent(2, processing(99))])

        sink.full = true
        updates.next(processing(99.5)) // written; full again
        updates.next(processing(99.6))
        updates.next(done)
        expect(sink.chunks.slice(3)).toEqual([
          encodeEvent(3, processing(99.5)),
          encodeEvent(4, done),
        ])
        expect(sink.ended).toBe(true)
      }, 20)
    })
  })

  it('unsubscribes at once when the client disconnects, and cancels the prompt if asked to', async () => {
    let unsubscribed = 0
    const cancelled: string[] = []
    const source = NEVER.pipe(
      startWithLatest,
      finalize(() => unsubscribed++),
    )
    const canceller = { cancel: async (promptId: string) => void cancelled.push(promptId) }
    const stream = session(new FakeSink(), { cancelOnDisconnect: canceller })
    stream.start(source)
    stream.disconnect()
    expect(unsubscribed).toBe(1)
    await Promise.resolve()
    expect(cancelled).toEqual([P])
  })

  it('does not cancel a prompt whose final update was sent, nor before knowing the prompt', async () => {
    const cancelled: string[] = []
    const canceller = { cancel: (promptId: string) => void cancelled.push(promptId) }
    const finished = session(new FakeSink(), { cancelOnDisconnect: canceller })
    const updates = new Subject<ProgressUpdate>()
    finished.start(updates)
    updates.next(done)
    finished.disconnect()
    const unknown = session(new FakeSink(), { cancelOnDisconnect: canceller })
    unknown.start(NEVER)
    unknown.disconnect()
    const named = session(new FakeSink(), { cancelOnDisconnect: canceller, promptId: 'p7' })
    named.start(NEVER)
    named.disconnect()
    await Promise.resolve()
    await Promise.resolve()
    expect(cancelled).toEqual(['p7'])
  })

  it('ignores a failing cancel', async () => {
    const failing = { cancel: () => Promise.reject(new Error('pod down')) }
    const stream = session(new FakeSink(), { cancelOnDisconnect: failing })
    stream.start(NEVER.pipe(startWithLatest))
    expect(() => stream.disconnect()).not.toThrow()
    await new Promise((resolve) => setImmediate(resolve))
  })
})

function startWithLatest(source: Observable<ProgressUpdate>): Observable<ProgressUpdate> {
  return new Observable<ProgressUpdate>((subscriber) => {
    subscriber.next(processing(70))
    return source.subscribe(subscriber)
  })
}
