import { isRight } from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  ComfyExecutionError,
  ComfyInterruptedError,
  decodeFrame,
  type JobEvent,
} from '../../src/index.js'
import type { JobInput, JobState } from '../../src/job/JobState.js'
import { initialJobState } from '../../src/job/initialJobState.js'
import type { JobFailed } from '../../src/job/jobSteps.js'
import { CostModel } from '../../src/job/CostModel.js'
import { reduceJob } from '../../src/job/reduceJob.js'
import { progressEvent } from '../../src/job/progressEvent.js'
import type { Workflow } from '../../src/job/Workflow.js'
import type { HistoryEntry } from '../../src/protocol/History.js'
import { PromptRouter } from '../../src/socket/PromptRouter.js'
import { readTrace, type TraceEntry } from '../support/traces.js'

const viewUrl = ({ filename }: { filename: string }) => `http://pod/view?filename=${filename}`

/** One step, with the progress event an unthrottled job sends when the step changed progress. */
function step(
  state: JobState,
  input: JobInput,
): { state: JobState; events: (JobEvent | JobFailed)[] } {
  const next = reduceJob(state, input)
  const events = next.events.filter((event) => event.type !== 'timed')
  return next.state.progressVersion === state.progressVersion
    ? { state: next.state, events }
    : { state: next.state, events: [...events, progressEvent(next.state)] }
}

/** When the pod ran the trace's prompt: its `execution_start` and `execution_success`. */
function executionWindow(trace: TraceEntry[]): { start: number; end: number } {
  const at = (type: string) =>
    trace.find((entry) => entry.dir === 'ws-in' && entry.frame === 'text' && entry.type === type)!.t
  return { start: at('execution_start'), end: at('execution_success') }
}

/**
 * Replays one prompt of a recorded trace through the router and the reducer, as the pod does,
 * teaching `model` the nodes timed; with `stamped`, each event carries the trace time it came at.
 */
function replay(
  trace: TraceEntry[],
  phase?: string,
  model = new CostModel(),
  stamped = false,
): (JobEvent | JobFailed)[] {
  const entries = trace.filter(
    (entry) => phase === undefined || !('phase' in entry) || entry.phase === phase,
  )
  const post = entries.find((e) => e.dir === 'http' && e.method === 'POST')
  if (post?.dir !== 'http') throw new Error('no POST /prompt in the trace')
  const workflow = (post.req as { prompt: Workflow }).prompt
  const promptId = (post.resp as { prompt_id: string }).prompt_id
  let state: JobState = initialJobState(promptId, workflow, post.t, viewUrl, model)
  const events: (JobEvent | JobFailed)[] = []
  const feed = (input: JobInput) => {
    for (const output of reduceJob(state, input).events)
      if (output.type === 'timed') model.learn(output.run)
    const next = step(state, input)
    state = next.state
    events.push(
      ...(stamped ? next.events.map((event) => ({ ...event, at: input.at })) : next.events),
    )
  }
  const router = new PromptRouter()
  router.register(promptId, { message: (message) => feed({ kind: 'message', at: now, message }) })
  let now = 0
  for (const entry of entries) {
    now = entry.t
    if (entry === post) {
      feed({ kind: 'accepted', at: now, promptId })
      feed({
        kind: 'queue',
        at: now,
        source: 'websocket',
        queue: { state: 'pending', position: 0 },
      })
    } else if (entry.dir === 'ws-in' && entry.frame === 'text') {
      const decoded = decodeFrame(JSON.stringify(entry.msg))
      if (isRight(decoded)) router.dispatch(decoded.right)
    } else if (entry.dir === 'http' && entry.path === `/history/${promptId}`) {
      feed({
        kind: 'history',
        at: now,
        source: 'websocket',
        entry: (entry.resp as Record<string, HistoryEntry>)[promptId],
      })
    }
  }
  return events
}

function progressOf(events: (JobEvent | JobFailed)[]): number[] {
  return events.flatMap((event) => (event.type === 'progress' ? [event.progress] : []))
}

function expectMonotonicBelow100ThenFinal(events: (JobEvent | JobFailed)[]): void {
  const values = progressOf(events)
  expect(
    values.slice(0, -1).every((value, i) => value < 100 && (i === 0 || value >= values[i - 1]!)),
  ).toBe(true)
  expect(values.at(-1)).toBe(100)
  expect(events.at(-2)).toMatchObject({ type: 'progress', progress: 100 })
}

describe('reduceJob', () => {
  it('follows the simple-success trace to one completion with the SaveImage output', () => {
    const events = replay(readTrace('simple-success'))
    const types = events.map((event) => event.type)
    expect(types.slice(0, 2)).toEqual(['queued', 'started'])
    expect(types.filter((type) => type === 'completed')).toHaveLength(1)
    expect(types.at(-1)).toBe('completed')
    expect(types).toContain('node_executed')
    expectMonotonicBelow100ThenFinal(events)
    const completed = events.at(-1)
    expect(completed?.type === 'completed' && completed.result).toMatchObject({
      status: 'completed',
      method: 'websocket',
      images: [
        {
          filename: 'peer_simple_00002_.png',
          subfolder: '',
          type: 'output',
          url: 'http://pod/view?filename=peer_simple_00002_.png',
        },
      ],
      outputs: {
        '5': { images: [{ filename: 'peer_simple_00002_.png', subfolder: '', type: 'output' }] },
      },
    })
  })

  it('makes every state with the fields of the first, in its order (one hidden class)', () => {
    const trace = readTrace('progress')
    const post = trace.find((e) => e.dir === 'http' && e.method === 'POST')
    if (post?.dir !== 'http') throw new Error('no POST /prompt in the trace')
    const promptId = (post.resp as { prompt_id: string }).prompt_id
    const workflow = (post.req as { prompt: Workflow }).prompt
    const first = initialJobState(promptId, workflow, post.t, viewUrl, new CostModel())
    let state = reduceJob(first, { kind: 'accepted', at: post.t, promptId }).state
    const states = [state]
    for (const entry of trace) {
      if (entry.dir !== 'ws-in' || entry.frame !== 'text') continue
      const decoded = decodeFrame(JSON.stringify(entry.msg))
      if (!isRight(decoded)) continue
      state = reduceJob(state, { kind: 'message', at: entry.t, message: decoded.right }).state
      states.push(state)
    }
    // Progress states and transitions are made in different places (`measured`, `revise`).
    expect(new Set(states.map((each) => Object.keys(each).join())).size).toBe(1)
    expect(Object.keys(states.at(-1)!)).toEqual(Object.keys(first))
    expect(states.length).toBeGreaterThan(20)
  })

  it('reports the decode steps of the progress trace as rising progress', () => {
    const events = replay(readTrace('progress'))
    expectMonotonicBelow100ThenFinal(events)
    const during = events.filter(
      (event): event is Extract<JobEvent, { type: 'progress' }> =>
        event.type === 'progress' && event.currentNode === '3',
    )
    expect(new Set(during.map((event) => event.progress)).size).toBeGreaterThanOrEqual(12)
    expect(during.at(-1)?.nodes['3']).toEqual({ value: 12, max: 12, percentage: 100 })
    const stepping = during.filter(
      (event) => event.nodes['3']!.value > 0 && event.nodes['3']!.value < 12,
    )
    expect(stepping.every((event) => event.activity === 'stepping')).toBe(true)
  })

  it('tells the truth about time on a repeated run: progress near elapsed, the ETA near the time left', () => {
    const trace = readTrace('progress')
    const model = new CostModel()
    replay(trace, undefined, model)
    const { start, end } = executionWindow(trace)
    const events = replay(trace, undefined, model, true)
    const progress = events.filter(
      (event): event is Extract<JobEvent, { type: 'progress' }> & { at: number } =>
        event.type === 'progress' && event.progress < 100,
    )
    expect(progress.length).toBeGreaterThan(12)
    for (const event of progress) {
      const elapsed = (100 * (event.at - start)) / (end - start)
      expect(Math.abs(event.progress - elapsed)).toBeLessThan(5)
      expect(event.estimatedTimeRemaining).toBeDefined()
      expect(Math.abs(event.estimatedTimeRemaining! - (end - event.at) / 1000)).toBeLessThan(
        (0.1 * (end - start)) / 1000,
      )
    }
  })

  it('gives no estimate of the time left while it rests on priors (a pod that never ran the classes)', () => {
    const events = replay(readTrace('progress'))
    const progress = events.filter(
      (event): event is Extract<JobEvent, { type: 'progress' }> => event.type === 'progress',
    )
    // Before the decode's first step, everything left is a guess: no estimate.
    const firstStep = progress.findIndex((event) => event.nodes['3']?.value === 1)
    for (const event of progress.slice(0, firstStep)) {
      expect(event).not.toHaveProperty('estimatedTimeRemaining')
    }
    // Once the decode steps, its rate is a basis.
    const estimates = progress.slice(firstStep + 1, -1).map((event) => event.estimatedTimeRemaining)
    expect(
      estimates.filter((seconds) => seconds !== undefined && seconds > 0).length,
    ).toBeGreaterThan(5)
  })

  it('times every node it saw run for the cost model, never a cached one', () => {
    const trace = readTrace('progress')
    const model = new CostModel()
    replay(trace, undefined, model)
    const costs = model.costs()
    expect(Object.keys(costs).sort()).toEqual([
      'EmptyLatentImage',
      'SaveImage',
      'VAEDecodeTiled',
      'VAELoader',
    ])
    // Recorded: 349 → 3733 ms, 12 steps from 653 to 3732 ms.
    expect(costs['VAEDecodeTiled']).toMatchObject({ steps: 12, runs: 1 })
    expect(costs['VAEDecodeTiled']!.secondsPerStep).toBeCloseTo(3.079 / 11, 5)
    expect(costs['VAELoader']!.secondsPerRun).toBeCloseTo(0.037, 5)
    const cached = new CostModel()
    replay(readTrace('cached'), 'run3', cached)
    expect(Object.keys(cached.costs())).toEqual(['SaveImage'])
  })

  it('completes a fully cached re-run with progress 100 and the cached output', () => {
    const events = replay(readTrace('cached'), 'run2')
    expect(events.map((event) => event.type)).toEqual([
      'queued',
      'started',
      'node_executed',
      'progress',
      'completed',
    ])
    expect(events.at(-2)).toMatchObject({ progress: 100 })
  })

  it('counts only the re-executed node when the rest is cached', () => {
    const events = replay(readTrace('cached'), 'run3')
    const first = events.find((event) => event.type === 'progress')
    expect(first?.type === 'progress' && Object.keys(first.nodes)).toEqual(['5'])
    expectMonotonicBelow100ThenFinal(events)
  })

  it('fails with every field of execution_error, after the outputs that came before it', () => {
    const events = replay(readTrace('execution-error'))
    expect(events.map((event) => event.type).filter((type) => type !== 'progress')).toEqual([
      'queued',
      'started',
      'node_executed',
      'failed',
    ])
    const failed = events.at(-1)
    const error = failed?.type === 'failed' ? failed.error : undefined
    expect(error).toBeInstanceOf(ComfyExecutionError)
    expect(error).toMatchObject({
      nodeId: '3',
      nodeType: 'RegexReplace',
      exceptionType: 're.error',
      executed: ['2', '1'],
      currentOutputs: ['2', '3', '4', '1'],
      timestamp: 1795868428793,
    })
    expect((error as ComfyExecutionError).traceback).toHaveLength(13)
    expect(progressOf(events)).not.toContain(100)
  })

  const workflow: Workflow = {
    '1': { class_type: 'EmptyImage', inputs: {} },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0] } },
  }
  const start = (): JobState => initialJobState('p', workflow, 0, viewUrl, new CostModel())
  const run = (inputs: JobInput[], state = start()) =>
    inputs.reduce<{ state: JobState; events: (JobEvent | JobFailed)[] }>(
      (acc, input) => {
        const next = step(acc.state, input)
        return { state: next.state, events: [...acc.events, ...next.events] }
      },
      { state, events: [] },
    )
  const ws = (type: string, data: object, at = 1): JobInput => {
    const decoded = decodeFrame(JSON.stringify({ type, data }))
    if (!isRight(decoded)) throw new Error('bad message')
    return { kind: 'message', at, message: decoded.right }
  }

  it('emits queued before started when execution_start beats the answer of POST /prompt', () => {
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      { kind: 'accepted', at: 2, promptId: 'p' },
      { kind: 'queue', at: 2, source: 'websocket', queue: { state: 'pending', position: 3 } },
    ])
    expect(events.map((event) => event.type)).toEqual(['queued', 'started'])
    expect(events[0]).toMatchObject({ position: 0 })
  })

  it('ignores the non-terminal ExecutionBlocked error', () => {
    const { state, events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('execution_error', {
        prompt_id: 'p',
        exception_type: 'ExecutionBlocked',
        exception_message: 'Execution Blocked: x',
        traceback: [],
      }),
    ])
    expect(state.phase).toBe('running')
    expect(events.map((event) => event.type)).toEqual(['queued', 'started'])
  })

  it('fails with ComfyInterruptedError on execution_interrupted', () => {
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('execution_interrupted', {
        prompt_id: 'p',
        node_id: '1',
        node_type: 'EmptyImage',
        executed: [],
        timestamp: 5,
      }),
    ])
    const failed = events.at(-1)
    expect(failed?.type === 'failed' && failed.error).toBeInstanceOf(ComfyInterruptedError)
  })

  it('never completes on executed alone, even of every output node', () => {
    const { state, events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('executed', { node: '2', output: { images: [] }, prompt_id: 'p' }),
      ws('execution_success', { prompt_id: 'p' }),
    ])
    expect(state.phase).toBe('running')
    expect(events.map((event) => event.type)).not.toContain('completed')
  })

  it('completes from the socket alone when history has no entry after executing null', () => {
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('executed', {
        node: '2',
        output: { images: [{ filename: 'a.png', subfolder: '', type: 'output' }] },
        prompt_id: 'p',
      }),
      ws('executing', { node: null, prompt_id: 'p' }),
      { kind: 'history', at: 9, source: 'websocket', entry: undefined },
    ])
    expect(events.at(-1)).toMatchObject({
      type: 'completed',
      result: { images: [{ filename: 'a.png' }], durationMs: 9 },
    })
  })

  it('emits queued and started before completing on an executing null that came alone', () => {
    const { events } = run([
      { kind: 'accepted', at: 1, promptId: 'p' },
      ws('executing', { node: null, prompt_id: 'p' }),
      { kind: 'history', at: 3, source: 'websocket', entry: undefined },
    ])
    expect(events.map((event) => event.type)).toEqual([
      'queued',
      'started',
      'progress',
      'completed',
    ])
  })

  it('completes from a history entry alone, as a job that missed every message', () => {
    const { events } = run([
      {
        kind: 'history',
        at: 4,
        source: 'rest_polling',
        entry: {
          outputs: { '2': { images: [] } },
          status: { status_str: 'success', completed: true, messages: [] },
        },
      },
    ])
    expect(events.map((event) => event.type)).toEqual([
      'queued',
      'started',
      'progress',
      'completed',
    ])
    expect(events.at(-1)).toMatchObject({
      source: 'rest_polling',
      result: { method: 'rest_polling' },
    })
  })

  it('takes a failure from the history messages', () => {
    const { events } = run([
      {
        kind: 'history',
        at: 4,
        source: 'rest_polling',
        entry: {
          outputs: {},
          status: {
            status_str: 'error',
            completed: false,
            messages: [['execution_interrupted', { prompt_id: 'p', node_id: '1' }]],
          },
        },
      },
    ])
    const failed = events.at(-1)
    expect(failed?.type === 'failed' && failed.error).toBeInstanceOf(ComfyInterruptedError)
  })

  it('computes progress from progress and executing on servers without progress_state', () => {
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }, 0),
      ws('executing', { node: '1', prompt_id: 'p' }, 0),
      ws('progress', { value: 1, max: 2, node: '1', prompt_id: 'p' }, 100),
      ws('executing', { node: '2', prompt_id: 'p' }, 200),
    ])
    // At 100 ms node 1 is half done at 0.1 s a step, SaveImage's prior is 0.2 s: 0.1 of 0.4 s.
    // At 200 ms node 1 took 0.2 s and SaveImage starts: 0.2 of 0.4 s.
    expect(progressOf(events)).toEqual([0, 25, 50])
  })

  it('moves the bar while a node loads, within its expected share, and says it is loading', () => {
    const model = new CostModel({ costs: { SaveImage: { secondsPerRun: 1, runs: 3 } } })
    let { state, events } = run(
      [
        ws('execution_start', { prompt_id: 'p' }, 0),
        ws('executing', { node: '1', prompt_id: 'p' }, 0),
        ws('executing', { node: '2', prompt_id: 'p' }, 1000),
      ],
      initialJobState('p', workflow, 0, viewUrl, model),
    )
    expect(events.at(-1)).toMatchObject({ activity: 'loading', currentNode: '2' })
    const values: number[] = []
    for (const at of [1250, 1500, 1750, 2000, 3000, 10_000]) {
      ;({ state, events } = step(state, { kind: 'tick', at }))
      values.push(state.progress)
    }
    // 1 s done, SaveImage expected to take 1 s: its share is 50–100 %. Its time counts up to
    // 95 % of what it should take, never past: the bar stops at 97.5 while it overruns.
    expect(values).toEqual([62.5, 75, 87.5, 97.5, 97.5, 97.5])
    expect(state.activity).toBe('loading')
  })

  it('never lets progress go backwards when a node restarts', () => {
    const state = (value: number) =>
      ws('progress_state', {
        prompt_id: 'p',
        nodes: { '1': { value, max: 4, state: 'running', node_id: '1' } },
      })
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      state(3),
      state(0),
      state(4),
    ])
    const values = progressOf(events)
    expect(values).toEqual([...values].sort((a, b) => a - b))
    expect(Math.max(...values)).toBeLessThan(100)
  })

  it('keeps progress monotonic when a node executes twice in one prompt (ComfyUI 0.3.68+)', () => {
    const step = (value: number) => ws('progress', { value, max: 4, node: '1', prompt_id: 'p' })
    const { events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('executing', { node: '1', prompt_id: 'p' }),
      step(2),
      step(4),
      ws('executed', { node: '1', output: null, prompt_id: 'p' }),
      ws('executing', { node: '1', prompt_id: 'p' }),
      step(1),
      step(3),
      ws('executed', { node: '1', output: { images: [] }, prompt_id: 'p' }),
      ws('executing', { node: '2', prompt_id: 'p' }),
    ])
    const values = progressOf(events)
    expect(values.length).toBeGreaterThan(3)
    expect(values).toEqual([...values].sort((a, b) => a - b))
    expect(Math.max(...values)).toBeLessThan(100)
    expect(events.filter((event) => event.type === 'node_executed')).toHaveLength(2)
  })

  it('takes an executed with no executing before it (a cached node with intermediate output, 0.19+)', () => {
    const { state, events } = run([
      ws('execution_start', { prompt_id: 'p' }),
      ws('execution_cached', { nodes: ['1'], prompt_id: 'p' }),
      ws('executing', { node: '2', prompt_id: 'p' }),
      ws('executed', {
        node: '2',
        output: { images: [{ filename: 'b.png', subfolder: '', type: 'output', id: 'asset-7' }] },
        prompt_id: 'p',
      }),
      ws('executed', {
        node: '1',
        output: { images: [{ filename: 'a.png', subfolder: '', type: 'temp' }] },
        prompt_id: 'p',
      }),
      ws('execution_success', { prompt_id: 'p' }),
      ws('executing', { node: null, prompt_id: 'p' }),
      { kind: 'history', at: 9, source: 'websocket', entry: undefined },
    ])
    expect(state.phase).toBe('done')
    const completed = events.at(-1)
    expect(completed?.type).toBe('completed')
    const images = completed?.type === 'completed' ? completed.result.images : []
    expect(images.map((image) => image.filename).sort()).toEqual(['a.png', 'b.png'])
    expectMonotonicBelow100ThenFinal(events)
  })
})
