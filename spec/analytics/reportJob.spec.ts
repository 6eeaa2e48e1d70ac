import { concat, type Observable, of, Subject } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyExecutionError,
  ComfyHttpError,
  type ConnectionState,
  type JobEvent,
} from '../../src/index.js'
import type { AnalyticsEvent } from '../../src/analytics/AnalyticsEvent.js'
import { reportJob, type ReportJobOptions } from '../../src/analytics/reportJob.js'
import { completed, progress, queued, started } from './jobEvents.js'

const P = 'p1'
const closed: ConnectionState = { state: 'closed', reason: 'not opened yet' }
const states: Record<string, ConnectionState> = {
  c: { state: 'connecting', attempt: 1 },
  o: { state: 'open', connectTimeMs: 3 },
  r: { state: 'reconnecting', attempt: 1, delayMs: 10, reason: 'closed' },
  f: {
    state: 'failed',
    reason: 'ws://127.0.0.1:1/ws?clientId=x failed: connect ECONNREFUSED',
    code: 'refused',
  },
  t: {
    state: 'failed',
    reason: 'ws://127.0.0.1:1/ws?clientId=x did not open within 300 ms',
    code: 'timeout',
  },
  x: { state: 'closed', reason: 'idle' },
}
const events: Record<string, JobEvent> = {
  q: queued(P),
  s: started(P),
  a: progress(P, 10),
  b: progress(P, 20),
  c: progress(P, 30),
  d: progress(P, 40),
  h: progress(P, 100),
  w: completed(P, 'websocket', 2500, 4),
  R: completed(P, 'rest_polling', 4000, 2),
}

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

/** A sink that records what it gets, with the virtual time. */
function recordingSink(scheduler: TestScheduler) {
  const captured: { at: number; event: AnalyticsEvent }[] = []
  return {
    captured,
    sink: { capture: (event: AnalyticsEvent) => captured.push({ at: scheduler.now(), event }) },
  }
}

/** A pod's `connection$`: the current state replayed, then the marbles. */
function connection$(
  scheduler: TestScheduler,
  marbles: string,
  current: ConnectionState = closed,
): Observable<ConnectionState> {
  return concat(of(current), scheduler.createHotObservable(marbles, states))
}

const options = (pod: ReportJobOptions['pod'], more: Partial<ReportJobOptions> = {}) =>
  ({ pod, progressThrottleMs: 10, ...more }) as ReportJobOptions

describe('reportJob', () => {
  it('passes the job through untouched and reports its completion over the socket', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-o') }
      const job$ = cold('----q-s-a--h-w|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '----q-s-a--h-w|',
        events,
      )
    })
    expect(captured.map(({ event }) => event)).toEqual([
      {
        event: 'comfyui_progress_update',
        properties: { promptId: P, progress: 10, jobType: 'image_generation' },
      },
      {
        event: 'comfyui_job_websocket_completed',
        properties: { promptId: P, duration: 2.5, progressUpdates: 4, method: 'websocket' },
      },
    ])
  })

  it('reports at most one progress update per throttle window, the first of it', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '') }
      const job$ = cold('q-a-b-c 6ms d 10ms h-w|', events)
      expectObservable(
        job$.pipe(reportJob(sink, options(pod, { scheduler, jobType: 'face_swap' }))),
      ).toBe('q-a-b-c 6ms d 10ms h-w|', events)
    })
    const updates = captured.filter(({ event }) => event.event === 'comfyui_progress_update')
    expect(updates.map(({ at, event }) => [at, event.properties])).toEqual([
      [2, { promptId: P, progress: 10, jobType: 'face_swap' }],
      [13, { promptId: P, progress: 40, jobType: 'face_swap' }],
      [24, { promptId: P, progress: 100, jobType: 'face_swap' }],
    ])
    for (let i = 1; i < updates.length; i++) {
      expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(10)
    }
  })

  it('never delays the end of a job whose last progress falls in a throttle window', () => {
    const scheduler = testScheduler()
    const { sink } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '') }
      const job$ = cold('q-a-b-w|', events)
      expectObservable(
        job$.pipe(reportJob(sink, options(pod, { scheduler, progressThrottleMs: 1000 }))),
      ).toBe('q-a-b-w|', events)
    })
  })

  it('reports one fallback, connection_failed, when the socket fails before it ever opened', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-r-c-f-c-f') }
      const job$ = cold('--------------q-s-R|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '--------------q-s-R|',
        events,
      )
    })
    expect(captured.map(({ at, event }) => [at, event])).toEqual([
      [
        14,
        {
          event: 'comfyui_websocket_fallback',
          properties: { promptId: P, reason: 'connection_failed', fallbackMethod: 'rest_polling' },
        },
      ],
      [
        18,
        {
          event: 'comfyui_job_rest_polling_completed',
          properties: { promptId: P, duration: 4, progressUpdates: 2, method: 'rest_polling' },
        },
      ],
    ])
  })

  it('reports a timeout fallback when the socket had opened and its reopening timed out', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      // The socket was already open when the job began.
      const pod = { connection$: connection$(scheduler, '---r-c-t', states['o']) }
      const job$ = cold('q-s---------R|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        'q-s---------R|',
        events,
      )
    })
    expect(captured.map(({ at, event }) => [at, event.event, event.properties])).toEqual([
      [
        7,
        'comfyui_websocket_fallback',
        { promptId: P, reason: 'timeout', fallbackMethod: 'rest_polling' },
      ],
      [
        12,
        'comfyui_job_rest_polling_completed',
        { promptId: P, duration: 4, progressUpdates: 2, method: 'rest_polling' },
      ],
    ])
  })

  it('reports an error fallback when an open socket is lost for good', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-o---f', closed) }
      const job$ = cold('--q-s------R|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '--q-s------R|',
        events,
      )
    })
    expect(captured[0]?.event).toEqual({
      event: 'comfyui_websocket_fallback',
      properties: { promptId: P, reason: 'error', fallbackMethod: 'rest_polling' },
    })
  })

  it('counts an open socket replayed at the start as opened for the job', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-----f', states['o']) }
      const job$ = cold('q-s------R|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        'q-s------R|',
        events,
      )
    })
    expect(captured[0]?.event.properties).toMatchObject({ reason: 'error' })
  })

  it('takes no replayed failure from before the job for a fallback of it', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-o', states['f']) }
      const job$ = cold('----q-s-w|', events)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '----q-s-w|',
        events,
      )
    })
    expect(captured.map(({ event }) => event.event)).toEqual(['comfyui_job_websocket_completed'])
  })

  it('reports no fallback for a socket-only job, and its failure as a websocket failure', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    const error = new ComfyConnectionError(
      'ws://***@127.0.0.1:1/ws?token=*** was closed by the pod',
      'ws://***@127.0.0.1:1/ws?token=***',
      'closed',
    )
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-o---f') }
      const job$ = cold('--q-s-#', events, error)
      expectObservable(
        job$.pipe(reportJob(sink, options(pod, { scheduler, restFallback: false }))),
      ).toBe('--q-s-#', events, error)
    })
    expect(captured.map(({ event }) => event)).toEqual([
      {
        event: 'comfyui_job_websocket_failed',
        properties: {
          promptId: P,
          error: 'ComfyConnectionError: ws://***@127.0.0.1:1/ws?token=*** was closed by the pod',
          method: 'websocket',
        },
      },
    ])
  })

  it('reports a failure after a fallback as a REST polling failure, without credentials', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    const error = new ComfyHttpError(
      'GET http://admin:hunter2@pod:8188/history/p1?token=s3cr3t failed; Authorization: Bearer abcdefgh12345678',
      'GET',
      'http://pod:8188/history/p1',
      0,
    )
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-f') }
      const job$ = cold('-----q---#', events, error)
      expectObservable(job$.pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '-----q---#',
        events,
        error,
      )
    })
    const failed = captured.at(-1)?.event
    expect(failed?.event).toBe('comfyui_job_rest_polling_failed')
    expect(failed?.properties).toMatchObject({ promptId: P, method: 'rest_polling' })
    const text = (failed?.properties as { error: string }).error
    expect(text).not.toMatch(/hunter2|s3cr3t|abcdefgh12345678/)
    expect(text).toContain('ComfyHttpError: GET http://***@pod:8188/history/p1?token=***')
  })

  it('names the prompt of an error that came before any event', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    const error = new ComfyExecutionError({ prompt_id: 'p9', exception_message: 'boom' })
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '') }
      expectObservable(
        cold<JobEvent>('--#', undefined, error).pipe(reportJob(sink, options(pod, { scheduler }))),
      ).toBe('--#', undefined, error)
    })
    expect(captured.map(({ event }) => event.properties)).toEqual([
      { promptId: 'p9', error: 'ComfyExecutionError: node ? failed: boom', method: 'websocket' },
    ])
  })

  it('reports nothing for an error after which the job is retried elsewhere', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    const error = new Error('retry me')
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-f') }
      expectObservable(
        cold<JobEvent>('------#', undefined, error).pipe(
          reportJob(sink, options(pod, { scheduler, isRetried: (e) => e === error })),
        ),
      ).toBe('------#', undefined, error)
    })
    expect(captured).toEqual([])
  })

  it('keeps the job going when the sink throws', () => {
    const scheduler = testScheduler()
    const sink = {
      capture: () => {
        throw new Error('analytics down')
      },
    }
    scheduler.run(({ cold, expectObservable }) => {
      const pod = { connection$: connection$(scheduler, '-c-f') }
      expectObservable(
        cold('----q-a-R|', events).pipe(reportJob(sink, options(pod, { scheduler }))),
      ).toBe('----q-a-R|', events)
    })
  })

  it('mirrors an empty job, a job that never ends, and stops watching when unsubscribed', () => {
    const scheduler = testScheduler()
    const { sink, captured } = recordingSink(scheduler)
    const connection = new Subject<ConnectionState>()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const pod = { connection$: connection.asObservable() }
      expectObservable(cold<JobEvent>('|').pipe(reportJob(sink, options(pod, { scheduler })))).toBe(
        '|',
      )
      const never$ = cold<JobEvent>('-')
      expectObservable(never$.pipe(reportJob(sink, options(pod, { scheduler }))), '^ 50ms !').toBe(
        '-',
      )
      expectSubscriptions(never$.subscriptions).toBe('^ 50ms !')
    })
    expect(connection.observed).toBe(false)
    expect(captured).toEqual([])
  })

  it('rejects invalid options with a TypeError naming them', () => {
    const pod = { connection$: of(closed) }
    expect(() =>
      reportJob({ capture: () => undefined }, options(pod, { jobType: 'video' as never })),
    ).toThrow(/jobType must be image_generation \| lora_training \| face_swap, received "video"/)
    expect(() =>
      reportJob({ capture: () => undefined }, options(pod, { progressThrottleMs: -1 })),
    ).toThrow(/progressThrottleMs must be a number >= 0, received -1/)
  })
})
