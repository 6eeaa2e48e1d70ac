import { map, type Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it, vi } from 'vitest'
import type { JobEvent, JobProgress, PodMessage } from '../../src/index.js'
import { CostModel } from '../../src/job/CostModel.js'
import { deferralOf } from '../../src/job/deferralOf.js'
import { executeWorkflow } from '../../src/job/executeWorkflow.js'
import { initialJobState } from '../../src/job/initialJobState.js'
import type { JobInput, JobState } from '../../src/job/JobState.js'
import { reduceJob } from '../../src/job/reduceJob.js'
import type { Workflow } from '../../src/job/Workflow.js'
import { fakeJobContext } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

// The snapshots each job reduces, as `node 2 at <value>`: the job's own reducer, counted.
const reduced = vi.hoisted(() => [] as string[])
vi.mock('../../src/job/reduceJob.js', async (actual) => {
  const module = await actual<{ reduceJob: typeof reduceJob }>()
  return {
    reduceJob: (state: JobState, input: JobInput) => {
      if (input.kind === 'message' && input.message.type === 'progress_state') {
        const node = input.message.data.nodes['2']
        reduced.push(node === undefined ? '-' : `${node.state} ${node.value}`)
      }
      return module.reduceJob(state, input)
    },
  }
})

const P = '00000000-0000-4000-8000-000000000001'
const workflow: Workflow = {
  '1': { class_type: 'EmptyLatentImage', inputs: {} },
  '2': { class_type: 'KSampler', inputs: { latent_image: ['1', 0] } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0] } },
}
type Entry = readonly [value: number, max: number, state: 'running' | 'finished']
/** A `progress_state` of the prompt with these nodes, shaped as ComfyUI 0.3.64 sends them. */
const snapshot = (nodes: Record<string, Entry>): PodMessage =>
  msg('progress_state', {
    prompt_id: P,
    nodes: Object.fromEntries(
      Object.entries(nodes).map(([id, [value, max, state]]) => [
        id,
        { value, max, state, node_id: id, prompt_id: P, display_node_id: id, real_node_id: id },
      ]),
    ),
  })
const sampling = (value: number) =>
  snapshot({ '1': [1, 1, 'finished'], '2': [value, 10, 'running'] })
const step = (value: number) => msg('progress', { value, max: 10, node: '2', prompt_id: P })

/** A running job's state after these messages, reduced one by one from the start at 0. */
function runningAfter(...messages: PodMessage[]): JobState {
  let state = initialJobState(P, workflow, 0, () => '', new CostModel())
  for (const [at, message] of [msg('execution_start', { prompt_id: P }), ...messages].entries())
    state = reduceJob(state, { kind: 'message', at, message }).state
  return state
}

describe('deferralOf', () => {
  const sampler = () =>
    runningAfter(
      snapshot({ '1': [0, 1, 'running'] }),
      msg('executing', { node: '1', prompt_id: P }),
      sampling(0),
      msg('executing', { node: '2', prompt_id: P }),
      sampling(1),
    )

  it('holds a progress_state that only moves the steps of a node already stepping', () => {
    const state = sampler()
    expect(deferralOf(state, sampling(2))).toBe('hold')
    expect(deferralOf(state, sampling(7))).toBe('hold')
    // A node starting over (ComfyUI 0.3.68+ runs a node twice) moves its value back.
    expect(deferralOf(state, sampling(0))).toBe('hold')
  })

  it('skips a progress of the running node once progress_state drives node states', () => {
    const state = sampler()
    expect(deferralOf(state, step(2))).toBe('skip')
    expect(deferralOf(state, msg('progress', { value: 2, max: 10, prompt_id: P }))).toBe('skip')
    expect(deferralOf(state, msg('progress', { value: 0, max: 1, node: '3', prompt_id: P }))).toBe(
      'reduce',
    )
  })

  it('reduces at once every snapshot that starts, ends, or first steps a node, or changes a max', () => {
    const state = sampler()
    for (const changed of [
      snapshot({ '1': [1, 1, 'finished'], '2': [10, 10, 'finished'] }),
      snapshot({ '1': [1, 1, 'finished'], '2': [2, 10, 'running'], '3': [0, 1, 'running'] }),
      snapshot({ '2': [2, 10, 'running'] }),
      snapshot({ '1': [1, 1, 'finished'], '2': [2, 20, 'running'] }),
    ])
      expect(deferralOf(state, changed)).toBe('reduce')
    // The sampler's first step: its clock starts counting steps from it.
    const before = runningAfter(msg('executing', { node: '2', prompt_id: P }), sampling(0))
    expect(deferralOf(before, sampling(1))).toBe('reduce')
  })

  it('reduces every message before progress_state drives node states, and any other message', () => {
    const legacy = runningAfter(msg('executing', { node: '2', prompt_id: P }), step(1))
    expect(deferralOf(legacy, step(2))).toBe('reduce')
    expect(deferralOf(legacy, sampling(2))).toBe('reduce')
    const state = sampler()
    expect(deferralOf(state, msg('executing', { node: null, prompt_id: P }))).toBe('reduce')
    expect(deferralOf(state, msg('executed', { node: '3', output: {}, prompt_id: P }))).toBe(
      'reduce',
    )
  })
})

describe('a job following progress_state', () => {
  /**
   * `executeWorkflow$` with the default options but `progressThrottleMs`: its progress events by
   * time, and its pod's cost model. The sampler's end comes `pause` after its last step.
   */
  function follow(progressThrottleMs?: number, pause = '2s') {
    reduced.length = 0
    let costModel!: CostModel
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
    const progress: { at: number; event: JobProgress }[] = []
    scheduler.run(({ hot }) => {
      // Steps 2 to 9 of the sampler, a progress (2–9) and a progress_state (B–I) each.
      const sampler = Array.from({ length: 8 }, (_, i) => i + 2)
      const held = (value: number) => String.fromCharCode(64 + value)
      const messages$: Observable<PodMessage> = hot(
        `-s-a-b-c-e-f-g ${sampler.map((v) => `9ms ${v}${held(v)}`).join(' ')} ${pause} z-y-x-n`,
        {
          s: msg('execution_start', { prompt_id: P }),
          a: snapshot({ '1': [0, 1, 'running'] }),
          b: msg('executing', { node: '1', prompt_id: P }),
          c: sampling(0),
          e: msg('executing', { node: '2', prompt_id: P }),
          f: step(1),
          g: sampling(1),
          ...Object.fromEntries(sampler.map((v) => [`${v}`, step(v)])),
          ...Object.fromEntries(sampler.map((v) => [held(v), sampling(v)])),
          z: snapshot({
            '1': [1, 1, 'finished'],
            '2': [10, 10, 'finished'],
            '3': [0, 1, 'running'],
          }),
          y: msg('executing', { node: '3', prompt_id: P }),
          x: msg('executed', { node: '3', output: { images: [] }, prompt_id: P }),
          n: msg('executing', { node: null, prompt_id: P }),
        },
      )
      const context = fakeJobContext(scheduler, { messages$ })
      costModel = context.costModel
      const job$ = executeWorkflow(context, () => hot('-(p|)', { p: { promptId: P } }), workflow, {
        ...(progressThrottleMs === undefined ? {} : { progressThrottleMs }),
      })
      job$
        .pipe(map((event: JobEvent) => ({ at: scheduler.now(), event })))
        .subscribe(({ at, event }) => event.type === 'progress' && progress.push({ at, event }))
    })
    return { progress, costModel }
  }

  it('reduces only the last of the step snapshots a throttle window holds, and shows what measuring each would', () => {
    const { progress: throttled } = follow()
    // Reduced at once: a node starting, the sampler's first step, the end of it. The steps
    // inside the window wait for its end, where only the last (9 of 10) is measured.
    expect(reduced).toEqual(['-', 'running 0', 'running 1', 'running 9', 'finished 10'])
    const { progress: unthrottled } = follow(0)
    expect(reduced).toEqual([
      '-',
      'running 0',
      'running 1',
      ...[2, 3, 4, 5, 6, 7, 8, 9].map((v) => `running ${v}`),
      'finished 10',
    ])
    // The default window of 1 s: the first change at once, the steps at its end, a measure by
    // time in the next window (the sampler is silent), the end.
    expect(throttled.map(({ at }) => at)).toEqual([3, 1003, 2003, 2108])
    // At the window's end, the event an unthrottled job showed on the last step.
    const lastStep = unthrottled.find(({ event }) => event.nodes['2']!.value === 9)!
    expect(lastStep.at).toBe(101)
    expect(throttled[1]!.event).toEqual(lastStep.event)
  })

  it('reduces a held snapshot before the next input: the sampler is timed from its first step to its last', () => {
    // The sampler ends 10 ms after its last step, inside the window that holds steps 2 to 9.
    const { progress, costModel } = follow(undefined, '10ms')
    expect(reduced).toEqual(['-', 'running 0', 'running 1', 'running 9', 'finished 10'])
    expect(progress.map(({ at }) => at)).toEqual([3, 118])
    // Steps 1 (at 13 ms) to 9 (at 101 ms): 11 ms a step, learnt by the pod's model.
    expect(costModel.cost('KSampler').secondsPerStep).toBeCloseTo(0.011, 6)
  })
})
