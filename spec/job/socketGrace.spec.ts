import { BehaviorSubject, map, NEVER, type Observable, of, timer } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { ConnectionState, JobEvent, PodMessage } from '../../src/index.js'
import { executeWorkflow } from '../../src/job/executeWorkflow.js'
import type { QueueState } from '../../src/job/JobState.js'
import {
  connecting,
  oneNodeWorkflow as workflow,
  open,
  reconnecting,
  succeeded as entry,
} from '../support/jobFixtures.js'
import { fakeJobContext } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

const P = '00000000-0000-4000-8000-000000000001'

/**
 * A job with the default options (the grace is the pod's default, 1000 ms) whose pod's socket
 * goes through `changes` (time → state); the prompt runs on the pod from `runsAt` and is in
 * history from `doneAt`. Records when each REST call and `POST /prompt` happened.
 */
function job(
  scheduler: TestScheduler,
  setup: {
    first: ConnectionState
    changes?: readonly (readonly [number, ConnectionState])[]
    messages$?: Observable<PodMessage>
    runsAt: number
    doneAt: number
    /** How long `POST /prompt` takes to answer. */
    answerMs?: number
  },
) {
  const calls = { submit: [] as number[], queue: [] as number[], history: [] as number[] }
  const states = new BehaviorSubject(setup.first)
  for (const [at, state] of setup.changes ?? []) scheduler.schedule(() => states.next(state), at)
  const where = (): QueueState => {
    const now = scheduler.now()
    if (now >= setup.doneAt) return { state: 'absent' }
    return now >= setup.runsAt ? { state: 'running' } : { state: 'pending', position: 0 }
  }
  const context = fakeJobContext(scheduler, {
    messages$: setup.messages$ ?? NEVER,
    connection$: states,
    queueState: () => (calls.queue.push(scheduler.now()), of(where())),
    getHistory: () => (
      calls.history.push(scheduler.now()),
      of(scheduler.now() >= setup.doneAt ? entry : undefined)
    ),
  })
  const events$ = executeWorkflow(
    context,
    () => (
      calls.submit.push(scheduler.now()),
      timer(setup.answerMs ?? 0, scheduler).pipe(map(() => ({ promptId: P })))
    ),
    workflow,
    { promptId: P },
  ).pipe(
    map((event: JobEvent) =>
      event.type === 'progress'
        ? `p${event.progress}/${event.source}`
        : `${event.type}/${event.source}`,
    ),
  )
  return { events$, calls, context }
}

describe('the socket grace, in virtual time with the default options', () => {
  it('submits and polls over REST once the socket has not opened within the grace (blackholed)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, { first: connecting, runsAt: 1100, doneAt: 2500 })
      // Sent at 1000 and polled at once, then on each tick of the pod's grid of 1 s: the prompt,
      // done at 2500, ends at 3000.
      expectObservable(events$).toBe('1000ms q 999ms s 999ms (fz|)', {
        q: 'queued/rest_polling',
        s: 'started/rest_polling',
        f: 'p100/rest_polling',
        z: 'completed/rest_polling',
      })
      flush()
      expect(calls.submit).toEqual([1000])
      expect(calls.queue).toEqual([1000, 2000, 3000])
      expect(calls.history).toEqual([3000])
    })
  })

  it('sends the prompt once, however long its answer takes after the grace', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        first: connecting,
        runsAt: 1100,
        doneAt: 2500,
        answerMs: 700,
      })
      // Sent at 1000, answered at 1700 (the prompt runs by then): polled at once, then at 3000.
      expectObservable(events$).toBe('1700ms (qs) 1296ms (fz|)', {
        q: 'queued/rest_polling',
        s: 'started/rest_polling',
        f: 'p100/rest_polling',
        z: 'completed/rest_polling',
      })
      flush()
      expect(calls.submit).toEqual([1000])
      expect(calls.queue).toEqual([1700, 3000])
    })
  })

  it('waits the grace, no longer, for a socket that opens in time', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ flush }) => {
      const { events$, calls } = job(scheduler, {
        first: connecting,
        changes: [[999, open]],
        runsAt: 5000,
        doneAt: 6000,
      })
      const subscription = events$.subscribe()
      scheduler.schedule(() => subscription.unsubscribe(), 4000)
      flush()
      expect(calls.submit).toEqual([999])
      // Only the courtesy position query after the answer: no polling.
      expect(calls.queue).toEqual([999])
    })
  })

  it('returns to the socket after one reconcile round once it opens late', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const messages$ = hot<PodMessage>('3000ms n', {
        n: msg('executing', { node: null, prompt_id: P }),
      })
      const { events$, calls } = job(scheduler, {
        first: connecting,
        changes: [[2200, open]],
        messages$,
        runsAt: 1100,
        doneAt: 3000,
      })
      expectObservable(events$).toBe('1000ms q 999ms s 999ms (fz|)', {
        q: 'queued/rest_polling',
        s: 'started/rest_polling',
        f: 'p100/websocket',
        z: 'completed/websocket',
      })
      flush()
      // Polls at 1000 and 2000; the socket opens at 2200: one reconcile round, and no more polls.
      expect(calls.queue).toEqual([1000, 2000, 2200])
      expect(calls.history).toEqual([3000])
    })
  })

  it('goes on over REST within the grace after the socket drops and does not come back', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        first: open,
        changes: [[100, reconnecting]],
        runsAt: 50,
        doneAt: 2500,
      })
      expectObservable(events$).toBe('q 1099ms s 1899ms (fz|)', {
        q: 'queued/websocket',
        s: 'started/rest_polling',
        f: 'p100/rest_polling',
        z: 'completed/rest_polling',
      })
      flush()
      expect(calls.submit).toEqual([0])
      // The courtesy position at 0; polling from 1100 (100 + the grace), then on the grid.
      expect(calls.queue).toEqual([0, 1100, 2000, 3000])
    })
  })
})
