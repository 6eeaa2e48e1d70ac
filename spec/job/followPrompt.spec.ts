import {
  BehaviorSubject,
  EMPTY,
  map,
  type Observable,
  of,
  type Subscription,
  throwError,
} from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyHttpError,
  ComfyPromptLostError,
  type ConnectionState,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type PodMessage,
} from '../../src/index.js'
import { executeWorkflow } from '../../src/job/executeWorkflow.js'
import type { QueueState } from '../../src/job/JobState.js'
import type { HistoryEntry } from '../../src/protocol/History.js'
import {
  failed,
  oneNodeWorkflow as workflow,
  open,
  reconnecting,
  succeeded as entry,
} from '../support/jobFixtures.js'
import { fakeJobContext, type FakePod } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

const P = 'p1'
const serverError = () =>
  throwError(() => new ComfyHttpError('500', 'GET', 'http://pod/queue', 500))

/** The pod's connection$: a BehaviorSubject like the real one, so a late subscriber sees the state. */
function states(
  first: ConnectionState,
  later$?: Observable<ConnectionState>,
): Observable<ConnectionState> {
  const subject = new BehaviorSubject(first)
  later$?.subscribe(subject)
  return subject
}

interface Effects {
  messages$?: Observable<PodMessage>
  connection$: Observable<ConnectionState>
  queueState(call: number): Observable<QueueState>
  history(): HistoryEntry | undefined
}

/** A job over scripted pod effects, recording when each REST call and reconnect happened. */
function job(scheduler: TestScheduler, effects: Effects, options = {}) {
  const calls = { queue: [] as number[], history: [] as number[], reconnect: [] as number[] }
  let lastMessageAt = 0
  const context = fakeJobContext(scheduler, {
    messages$: (effects.messages$ ?? EMPTY).pipe(
      map((m) => ((lastMessageAt = scheduler.now()), m)),
    ),
    connection$: effects.connection$,
    reconnect: () => void calls.reconnect.push(scheduler.now()),
    lastMessageAt: () => lastMessageAt,
    queueState: () => effects.queueState(calls.queue.push(scheduler.now())),
    getHistory: () => (calls.history.push(scheduler.now()), of(effects.history())),
  })
  const events$ = executeWorkflow(context, () => of({ promptId: P }), workflow, {
    progressThrottleMs: 0,
    pollIntervalMs: 10,
    stallTimeoutMs: 50,
    ...options,
  }).pipe(map((event: JobEvent) => (event.type === 'progress' ? `p${event.progress}` : event.type)))
  return { events$, calls }
}

/**
 * Jobs `a` and `b` on one pod, started at `starts` and unsubscribed at `end`: the times each asked
 * where its prompt stands.
 */
function twoJobs(
  scheduler: TestScheduler,
  setup: {
    pod: Omit<FakePod, 'queueState'>
    queue: QueueState
    options: ExecuteWorkflowOptions
    starts: [number, number]
    end: number
  },
): { a: number[]; b: number[] } {
  const reads = { a: [] as number[], b: [] as number[] }
  const ids = {
    a: '00000000-0000-4000-8000-00000000000a',
    b: '00000000-0000-4000-8000-00000000000b',
  }
  const context = fakeJobContext(scheduler, {
    ...setup.pod,
    queueState: (promptId) => (
      reads[promptId === ids.a ? 'a' : 'b'].push(scheduler.now()),
      of(setup.queue)
    ),
  })
  const jobs: Subscription[] = []
  for (const [promptId, at] of [
    [ids.a, setup.starts[0]],
    [ids.b, setup.starts[1]],
  ] as const) {
    scheduler.schedule(() => {
      const job$ = executeWorkflow(context, () => of({ promptId }), workflow, {
        ...setup.options,
        promptId,
      })
      jobs.push(job$.subscribe())
    }, at)
  }
  scheduler.schedule(() => jobs.forEach((job) => job.unsubscribe()), setup.end)
  scheduler.flush()
  return reads
}

describe('the job’s REST side, in virtual time', () => {
  it('polls every pollIntervalMs while the socket is down, doubling the wait after each failed poll', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        messages$: hot('#', undefined, new Error('socket lost')),
        connection$: states(failed),
        // The first poll (there is no separate position query), two failed polls, then the rest.
        queueState: (call) =>
          call === 2 || call === 3
            ? serverError()
            : of(scheduler.now() >= 80 ? { state: 'absent' } : { state: 'running' }),
        history: () => (scheduler.now() >= 80 ? entry : undefined),
      })
      expectObservable(events$).toBe('(qs) 76ms (fz|)', {
        q: 'queued',
        s: 'started',
        f: 'p100',
        z: 'completed',
      })
      flush()
      expect(calls.queue).toEqual([0, 10, 30, 70, 80])
      // History only once the queue no longer lists the prompt.
      expect(calls.history).toEqual([80])
    })
  })

  it('polls on the grid of pollIntervalMs, so that the jobs of a pod poll together', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot }) => {
      const reads = twoJobs(scheduler, {
        pod: {
          messages$: hot('#', undefined, new Error('socket lost')),
          connection$: states(failed),
        },
        queue: { state: 'running' },
        options: { pollIntervalMs: 10 },
        starts: [0, 3],
        end: 35,
      })
      // b started 3 ms after a, and polls with it from its second round on, the next tick.
      expect(reads).toEqual({ a: [0, 10, 20, 30], b: [3, 10, 20, 30] })
    })
  })

  it('checks over REST after stallTimeoutMs of silence, on a grid of a tenth of it, and reopens a silent socket of a running prompt', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        messages$: hot('-s', { s: msg('execution_start', { prompt_id: P }) }),
        connection$: states(open),
        queueState: () => of(scheduler.now() >= 100 ? { state: 'absent' } : { state: 'running' }),
        history: () => (scheduler.now() >= 100 ? entry : undefined),
      })
      // Silent from 1: checked at 55 (51 on the grid of 5), and at 105.
      expectObservable(events$).toBe('(qs) 101ms (fz|)', {
        q: 'queued',
        s: 'started',
        f: 'p100',
        z: 'completed',
      })
      flush()
      expect(calls.reconnect).toEqual([55])
      expect(calls.history).toEqual([105])
    })
  })

  it('lets the idle jobs of a pod look at their silence together', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot }) => {
      const reads = twoJobs(scheduler, {
        pod: { messages$: hot('-') },
        queue: { state: 'pending', position: 1 },
        options: { stallTimeoutMs: 50 },
        starts: [1, 4],
        end: 60,
      })
      // Silent from 1 and from 4: both look at 55, where one GET /queue can serve both.
      expect(reads).toEqual({ a: [1, 55], b: [4, 55] })
    })
  })

  it('declares the prompt lost only when two rounds in a row find it nowhere', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        messages$: hot('-s', { s: msg('execution_start', { prompt_id: P }) }),
        connection$: states(open),
        queueState: (call) =>
          of(call === 1 ? { state: 'pending', position: 0 } : { state: 'absent' }),
        history: () => undefined,
      })
      expectObservable(events$).toBe(
        'q(s) 61ms #',
        { q: 'queued', s: 'started' },
        new ComfyPromptLostError(P),
      )
      flush()
      expect(calls.queue).toEqual([0, 55, 65])
      expect(calls.history).toEqual([55, 65])
    })
  })

  it('reconciles once over REST after every reconnect', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { events$, calls } = job(scheduler, {
        messages$: hot('-s', { s: msg('execution_start', { prompt_id: P }) }),
        connection$: states(open, hot('---r-o', { o: open, r: reconnecting })),
        queueState: () => of(scheduler.now() >= 5 ? { state: 'absent' } : { state: 'running' }),
        history: () => (scheduler.now() >= 5 ? entry : undefined),
      })
      expectObservable(events$).toBe('(qs)-(fz|)', {
        q: 'queued',
        s: 'started',
        f: 'p100',
        z: 'completed',
      })
      flush()
      expect(calls.history).toEqual([5])
    })
  })
})
