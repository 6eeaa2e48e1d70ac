import { BehaviorSubject, filter, map, type Observable, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { ConnectionState, JobEvent, PodMessage } from '../../src/index.js'
import { executeWorkflow } from '../../src/job/executeWorkflow.js'
import type { Workflow } from '../../src/job/Workflow.js'
import type { HistoryEntry } from '../../src/protocol/History.js'
import { fakeJobContext } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

// `GET /history/{id}` after `executing {node: null}` (protocol §3.7) only when the socket may not
// have given every output: a cached output node (§2.8), a socket that was not open throughout
// (a missed frame, a reconnect), a job that polled.

const workflow: Workflow = {
  '1': { class_type: 'EmptyLatentImage', inputs: {} },
  '2': { class_type: 'KSampler', inputs: { latent_image: ['1', 0] } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0] } },
}
const P = '00000000-0000-4000-8000-000000000001'
const image = { filename: 'a.png', subfolder: '', type: 'output' }
const start = msg('execution_start', { prompt_id: P })
const exec2 = msg('executing', { node: '2', prompt_id: P })
const step = msg('progress', { value: 1, max: 1, node: '2', prompt_id: P })
const saved = msg('executed', { node: '3', output: { images: [image] }, prompt_id: P })
const done = msg('executing', { node: null, prompt_id: P })
const entry = {
  prompt: [0, P, {}, {}, ['3']],
  outputs: { '3': { images: [{ ...image, filename: 'from-history.png' }] } },
  status: { status_str: 'success', completed: true, messages: [] },
} as unknown as HistoryEntry
const open: ConnectionState = { state: 'open', connectTimeMs: 1 }

function job(
  scheduler: TestScheduler,
  messages$: Observable<PodMessage>,
  connection$: Observable<ConnectionState> = of(open),
) {
  const reads: number[] = []
  const context = fakeJobContext(scheduler, {
    messages$,
    connection$,
    getHistory: () => (reads.push(scheduler.now()), of(entry)),
  })
  const events$ = executeWorkflow(context, () => of({ promptId: P }), workflow, { promptId: P })
  return { events$, reads }
}

/** The job's end: `completed` with its images' filenames. */
const ending = (events$: Observable<JobEvent>): Observable<string> =>
  events$.pipe(
    filter((event) => event.type === 'completed'),
    map((event) => `completed ${event.result.images.map((i) => i.filename).join(',')}`),
  )

describe('history after the end the socket signalled', () => {
  it('is not read when the socket gave the whole run, every output in `executed`', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const messages$ = hot('-s-e-a-x-n', { s: start, e: exec2, a: step, x: saved, n: done })
      const { events$, reads } = job(scheduler, messages$)
      expectObservable(events$.pipe(ending)).toBe('---------(c|)', { c: 'completed a.png' })
      flush()
      expect(reads).toEqual([])
    })
  })

  it('is read once after a cached output node (`executed` with no output)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const cached = msg('execution_cached', { nodes: ['3'], prompt_id: P })
      const cachedOutput = msg('executed', { node: '3', output: null, prompt_id: P })
      const messages$ = hot('-s-c-e-a-x-n', {
        s: start,
        c: cached,
        e: exec2,
        a: step,
        x: cachedOutput,
        n: done,
      })
      const { events$, reads } = job(scheduler, messages$)
      expectObservable(events$.pipe(ending)).toBe('-----------(c|)', {
        c: 'completed from-history.png',
      })
      flush()
      expect(reads).toEqual([11])
    })
  })

  it('is read once after the socket reconnected during the run (frames may have been missed)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const connection$ = new BehaviorSubject<ConnectionState>(open)
      scheduler.schedule(
        () => connection$.next({ state: 'reconnecting', attempt: 1, delayMs: 0, reason: 'x' }),
        4,
      )
      scheduler.schedule(() => connection$.next(open), 5)
      const messages$ = hot('-s-e---x-n', { s: start, e: exec2, x: saved, n: done })
      const { events$, reads } = job(scheduler, messages$, connection$)
      expectObservable(events$.pipe(ending)).toBe('---------(c|)', {
        c: 'completed from-history.png',
      })
      flush()
      expect(reads).toEqual([9])
    })
  })

  it('is read once when the run began before the socket heard it (no `execution_start`)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ hot, expectObservable, flush }) => {
      const messages$ = hot('---e-a-x-n', { e: exec2, a: step, x: saved, n: done })
      const { events$, reads } = job(scheduler, messages$)
      expectObservable(events$.pipe(ending)).toBe('---------(c|)', {
        c: 'completed from-history.png',
      })
      flush()
      expect(reads).toEqual([9])
    })
  })
})
