import { EMPTY, map, of, take } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyCancelledError,
  ComfyTimeoutError,
  type PreviewMethod,
  type ConnectionState,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type PodMessage,
} from '../../src/index.js'
import { executeWorkflow, type QueuePrompt } from '../../src/job/executeWorkflow.js'
import type { Workflow } from '../../src/job/Workflow.js'
import { fakeJobContext, type FakePod } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

const workflow: Workflow = {
  '1': { class_type: 'EmptyLatentImage', inputs: {} },
  '2': { class_type: 'KSampler', inputs: { latent_image: ['1', 0] } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0] } },
}
const P = '00000000-0000-4000-8000-000000000001'
const P2 = '00000000-0000-4000-8000-000000000002'
const P3 = '00000000-0000-4000-8000-000000000003'
const start = msg('execution_start', { prompt_id: P })
const step = (value: number) => msg('progress', { value, max: 10, node: '2', prompt_id: P })
const exec2 = msg('executing', { node: '2', prompt_id: P })
const done = msg('executing', { node: null, prompt_id: P })
const saved = msg('executed', { node: '3', output: { images: [] }, prompt_id: P })

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

interface Fakes extends FakePod {
  readonly queuePrompt?: QueuePrompt
}

/** A job over fake pod effects: `run` takes the workflow and options of `executeWorkflow$`. */
function context(scheduler: TestScheduler, fakes: Fakes) {
  const { queuePrompt = () => of({ promptId: P }), ...pod } = fakes
  const ctx = fakeJobContext(scheduler, { newPromptId: () => P, ...pod })
  return {
    run: (job: Workflow, options?: ExecuteWorkflowOptions) =>
      executeWorkflow(ctx, queuePrompt, job, options),
    /** What jobs hold on the pod: alarms, routes, attached listeners and followed prompts. */
    held: () => [ctx.alarms.size, ctx.hub.routes, ctx.hub.attached, ctx.prompts.size],
  }
}

/** An event as its type, or `p<progress>` for progress. */
function summary(event: JobEvent): string {
  switch (event.type) {
    case 'progress':
      return `p${event.progress}`
    default:
      return event.type
  }
}

describe('executeWorkflow$', () => {
  it('throttles progress with leading and trailing edges and never delays the end', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const messages$ = hot('-s-e-a-b-c-d-------------x-----n', {
        s: start,
        e: exec2,
        a: step(1),
        b: step(2),
        c: step(3),
        d: step(4),
        x: saved,
        n: done,
      })
      const events$ = context(scheduler, { messages$ }).run(workflow, {
        progressThrottleMs: 6,
      })
      // Leading edge at 3, trailing edges at 9 and 15, a new leading edge at 25; the end at once.
      expectObservable(events$.pipe(map(summary))).toBe('qs-a-----b-----c---------(xd)--(fz|)', {
        q: 'queued',
        s: 'started',
        a: 'p0.1',
        b: 'p2.9',
        c: 'p3.7',
        x: 'node_executed',
        d: 'p16.5',
        f: 'p100',
        z: 'completed',
      })
    })
  })

  it('drops a trailing progress still held when the job completes', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const messages$ = hot('-s-e-a-n', { s: start, e: exec2, a: step(5), n: done })
      const events$ = context(scheduler, { messages$ }).run(workflow, {
        progressThrottleMs: 100,
      })
      expectObservable(events$.pipe(map(summary))).toBe('qs-a---(fz|)', {
        q: 'queued',
        s: 'started',
        a: 'p0.1',
        f: 'p100',
        z: 'completed',
      })
    })
  })

  it('moves the bar by time while a node loads, one measure per throttle window, and stops at the end', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      // The sampler starts at 3 ms and sends no step for 2 s: a model loading. Its prior is
      // 2.3 s (0.3 s + 20 steps of 0.1 s), SaveImage's 0.2 s: the bar follows the time.
      const messages$ = hot('-s-e 1996ms n', { s: start, e: exec2, n: done })
      const events$ = context(scheduler, { messages$ }).run(workflow, {
        progressThrottleMs: 500,
      })
      const loading = (event: JobEvent) =>
        event.type === 'progress'
          ? `p${event.progress}${event.activity === 'loading' ? 'L' : ''}`
          : event.type
      expectObservable(events$.pipe(map(loading))).toBe(
        'qs-a 499ms b 499ms c 499ms d 496ms (fz|)',
        {
          q: 'queued',
          s: 'started',
          a: 'p0.1L',
          b: 'p19.7L',
          c: 'p39.3L',
          d: 'p58.9L',
          f: 'p100',
          z: 'completed',
        },
      )
    })
  })

  it('registers its route before POST /prompt and loses no event that beats the answer', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const messages$ = hot('--s------n', { s: start, n: done })
      const answer$ = cold('-----(a|)', { a: { promptId: P } })
      const ctx = context(scheduler, { messages$, queuePrompt: () => answer$ })
      expectObservable(ctx.run(workflow).pipe(map(summary))).toBe('--(qs)---(fz|)', {
        q: 'queued',
        s: 'started',
        f: 'p100',
        z: 'completed',
      })
      expectSubscriptions(answer$.subscriptions).toBe('^----!')
    })
  })

  it('asks the pod for the promptId it is given', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const asked: string[] = []
      const ctx = context(scheduler, {
        messages$: hot<PodMessage>('-'),
        queuePrompt: ({ promptId }) => (asked.push(promptId), of({ promptId })),
      })
      const mine = '7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
      const subscription = ctx.run(workflow, { promptId: mine }).subscribe()
      scheduler.schedule(() => subscription.unsubscribe(), 1)
      scheduler.flush()
      expect(asked).toEqual([mine])
    })
  })

  it('follows the id an old server picks itself, messages that beat its answer included', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable }) => {
      const theirs = 'picked-by-the-pod'
      const messages$ = hot('--s------n', {
        s: msg('execution_start', { prompt_id: theirs }),
        n: msg('executing', { node: null, prompt_id: theirs }),
      })
      const answer$ = cold('---(a|)', { a: { promptId: theirs } })
      const ctx = context(scheduler, { messages$, queuePrompt: () => answer$ })
      expectObservable(
        ctx.run(workflow).pipe(map((event) => `${summary(event)}:${event.promptId}`)),
      ).toBe('---(qs)--(fz|)', {
        q: `queued:${theirs}`,
        s: `started:${theirs}`,
        f: `p100:${theirs}`,
        z: `completed:${theirs}`,
      })
      scheduler.flush()
      expect(ctx.held()).toEqual([0, 0, 0, 0])
    })
  })

  it('posts only once the socket is open', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectSubscriptions }) => {
      const messages$ = hot<PodMessage>('-------')
      const answer$ = cold('(a|)', { a: { promptId: P } })
      const open$ = hot<ConnectionState>('c--o', {
        c: { state: 'connecting', attempt: 1 },
        o: { state: 'open', connectTimeMs: 3 },
      })
      const ctx = context(scheduler, {
        messages$,
        connection$: open$,
        queuePrompt: () => answer$,
      })
      const subscription = ctx.run(workflow).subscribe()
      scheduler.schedule(() => subscription.unsubscribe(), 6)
      expectSubscriptions(answer$.subscriptions).toBe('---(^!)')
    })
  })

  it('fails with ComfyTimeoutError after timeoutMs and leaves its route', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const messages$ = hot('-s------', { s: start })
      const events$ = context(scheduler, { messages$ }).run(workflow, { timeoutMs: 5 })
      expectObservable(events$.pipe(map(summary))).toBe(
        'qs---#',
        { q: 'queued', s: 'started' },
        new ComfyTimeoutError(P, 5),
      )
      expectSubscriptions(messages$.subscriptions).toBe('^----!')
    })
  })

  it('stops at once, leaving nothing, when its subscriber leaves in the middle of a step', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      // With no answer from GET /queue, execution_start makes two events: queued, then started.
      const messages$ = hot('-s-n', { s: start, n: done })
      const ctx = context(scheduler, { messages$, queueState: () => EMPTY })
      expectObservable(ctx.run(workflow).pipe(take(1), map(summary))).toBe('-(q|)', {
        q: 'queued',
      })
      scheduler.flush()
      expect(ctx.held()).toEqual([0, 0, 0, 0])
    })
  })

  it('keeps its deadline with an infinite stallTimeoutMs and pollIntervalMs', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const messages$ = hot('-s------', { s: start })
      const events$ = context(scheduler, { messages$ }).run(workflow, {
        timeoutMs: 5,
        stallTimeoutMs: Infinity,
        pollIntervalMs: Infinity,
      })
      expectObservable(events$.pipe(map(summary))).toBe(
        'qs---#',
        { q: 'queued', s: 'started' },
        new ComfyTimeoutError(P, 5),
      )
    })
  })

  it('removes its route when unsubscribed before the end', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const messages$ = hot('-s---------', { s: start })
      const events$ = context(scheduler, { messages$ }).run(workflow)
      expectObservable(events$.pipe(map(summary)), '^--!').toBe('qs', { q: 'queued', s: 'started' })
      expectSubscriptions(messages$.subscriptions).toBe('^--!')
    })
  })

  it('cancels the prompt and fails with ComfyCancelledError (running) when its signal aborts', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const controller = new AbortController()
      const messages$ = hot('-s------', { s: start })
      const cancel$ = cold<void>('-|')
      scheduler.schedule(() => controller.abort(), 3)
      const ctx = context(scheduler, { messages$, cancel: () => cancel$ })
      expectObservable(ctx.run(workflow, { signal: controller.signal }).pipe(map(summary))).toBe(
        'qs-#',
        { q: 'queued', s: 'started' },
        new ComfyCancelledError(P, 'running'),
      )
      expectSubscriptions(cancel$.subscriptions).toBe('---^!')
    })
  })

  it('leaves no alarm, route or listener on its pod once it ends, however it ends', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const messages$ = hot('-s---n', { s: start, n: done })
      const ctx = context(scheduler, { messages$, queuePrompt: ({ promptId }) => of({ promptId }) })
      const ends: string[] = []
      const record = { complete: () => ends.push('complete'), error: () => ends.push('error') }
      ctx.run(workflow, { promptId: P }).subscribe(record)
      ctx.run(workflow, { promptId: P2, timeoutMs: 3 }).subscribe(record)
      const dropped = ctx.run(workflow, { promptId: P3 }).subscribe(record)
      scheduler.schedule(() => dropped.unsubscribe(), 2)
      scheduler.schedule(() => expect(ctx.held()).toEqual([1, 1, 1, 1]), 4)
      scheduler.flush()
      expect(ends).toEqual(['error', 'complete'])
      expect(ctx.held()).toEqual([0, 0, 0, 0])
    })
  })

  it('leaves nothing on its pod when an old server picked the id of a prompt followed over REST', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const ctx = context(scheduler, {
        messages$: hot<PodMessage>('-'),
        queuePrompt: () => of({ promptId: 'picked-by-the-pod' }),
      })
      const job = ctx.run(workflow, { socket: false }).subscribe()
      scheduler.schedule(() => expect(ctx.held()).toEqual([1, 0, 0, 2]), 1)
      scheduler.schedule(() => job.unsubscribe(), 2)
      scheduler.flush()
      expect(ctx.held()).toEqual([0, 0, 0, 0])
    })
  })

  it('rejects a workflow in the UI save format and invalid options with a TypeError', () => {
    const ctx = context(testScheduler(), { messages$: EMPTY })
    expect(() => ctx.run({ nodes: [], links: [] } as unknown as Workflow)).toThrow(/Export \(API\)/)
    expect(() => ctx.run({})).toThrow(TypeError)
    expect(() => ctx.run(workflow, { progressThrottleMs: -1 })).toThrow(/progressThrottleMs/)
    expect(() => ctx.run(workflow, { timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => ctx.run(workflow, { promptId: '' })).toThrow(/promptId/)
    // ComfyUI 0.25+ refuses anything but str(uuid.UUID(v)): caught before anything is sent.
    expect(() => ctx.run(workflow, { promptId: 'job-1' })).toThrow(/promptId must be a lower-case/)
    expect(() => ctx.run(workflow, { promptId: '7A1C2B3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D' })).toThrow(
      /promptId/,
    )
    expect(() => ctx.run(workflow, { promptId: P2.replaceAll('-', '') })).toThrow(/promptId/)
    expect(() => ctx.run(workflow, { previewMethod: 'fast' as unknown as PreviewMethod })).toThrow(
      /previewMethod must be one of none, auto/,
    )
  })

  it('asks for the preview method in extra_data, beside the caller’s own extra data', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const asked: Readonly<Record<string, unknown>>[] = []
      const ctx = context(scheduler, {
        messages$: hot<PodMessage>('-'),
        queuePrompt: ({ promptId, extraData }) => (asked.push(extraData), of({ promptId })),
      })
      const jobs = [
        ctx.run(workflow, { previewMethod: 'none', extraData: { mine: 1 } }).subscribe(),
        ctx.run(workflow, { extraData: { mine: 2 } }).subscribe(),
      ]
      scheduler.schedule(() => jobs.forEach((job) => job.unsubscribe()), 1)
      scheduler.flush()
      expect(asked).toEqual([{ mine: 1, preview_method: 'none' }, { mine: 2 }])
    })
  })
})
