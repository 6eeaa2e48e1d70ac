import { lastValueFrom, tap } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyPod, type CostModel, type JobEvent, type Workflow } from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { readTrace } from '../support/traces.js'

// The progress trace's workflow: EmptyLatentImage → VAELoader → VAEDecodeTiled (12 steps) →
// SaveImage. A new temporal_size makes the decode (and SaveImage) run again; the loader and the
// latent stay cached, as on the recorded repeated runs.
const post = readTrace('progress').find((entry) => entry.dir === 'http' && entry.method === 'POST')
const recorded = (post as { req: { prompt: Workflow } }).req.prompt
const decodeWorkflow = (run: number): Workflow => ({
  ...recorded,
  '3': { ...recorded['3']!, inputs: { ...recorded['3']!.inputs, temporal_size: 8 + 4 * run } },
})

let simulator: ComfySimulator
const pods: ComfyPod[] = []

beforeEach(async () => {
  simulator = await startComfySimulator({
    previews: false,
    timings: {
      VAELoader: { durationMs: 30 },
      VAEDecodeTiled: { loadMs: 100, stepDurationMs: 60 },
      SaveImage: { durationMs: 10 },
    },
  })
})

afterEach(async () => {
  for (const pod of pods.splice(0)) pod.close()
  await simulator.close()
})

function pod(costModel?: CostModel): ComfyPod {
  const created = new ComfyPod(simulator.url, {
    idleCloseMs: 20,
    ...(costModel ? { costModel } : {}),
  })
  pods.push(created)
  return created
}

describe('the cost model of a pod (real sockets, simulator)', () => {
  it('refuses a simulator timing that is not a duration, naming it', async () => {
    await expect(
      startComfySimulator({ timings: { KSampler: { stepDurationMs: -1 } } }),
    ).rejects.toThrow(
      new TypeError(
        'ComfySimulatorOptions.timings.KSampler.stepDurationMs must be a number >= 0, received -1',
      ),
    )
  })

  it('learns each class from the jobs it runs: seconds per run, and per step of a node with steps', async () => {
    const first = pod()
    await lastValueFrom(first.executeWorkflow$(decodeWorkflow(0)))
    const costs = first.costModel.costs()
    expect(Object.keys(costs).sort()).toEqual([
      'EmptyLatentImage',
      'SaveImage',
      'VAEDecodeTiled',
      'VAELoader',
    ])
    expect(costs['VAEDecodeTiled']).toMatchObject({ steps: 12, runs: 1 })
    expect(costs['VAEDecodeTiled']!.secondsPerStep).toBeGreaterThan(0.05)
    expect(costs['VAEDecodeTiled']!.secondsPerStep).toBeLessThan(0.09)
    expect(first.costModel.typicalSeconds('VAEDecodeTiled')).toBeGreaterThan(0.8)
    // 30 ms on the simulator; a client busy when the node's `executing` came reads it late.
    expect(costs['VAELoader']!.secondsPerRun).toBeGreaterThan(0.015)
    expect(costs['VAELoader']!.secondsPerRun).toBeLessThan(0.5)
    // A second pod given the same model starts from what the first one learnt.
    const shared = pod(first.costModel)
    expect(shared.costModel).toBe(first.costModel)
  })

  it('on a repeated run, keeps progress near the elapsed time and gives an ETA from the first event', async () => {
    const on = pod()
    await lastValueFrom(on.executeWorkflow$(decodeWorkflow(0)))
    const stamped: { event: JobEvent; at: number }[] = []
    await lastValueFrom(
      on
        .executeWorkflow$(decodeWorkflow(1), { progressThrottleMs: 0 })
        .pipe(tap((event) => stamped.push({ event, at: performance.now() }))),
    )
    const startedAt = stamped.find(({ event }) => event.type === 'started')!.at
    const endedAt = stamped.at(-1)!.at
    const progress = stamped.flatMap(({ event, at }) =>
      event.type === 'progress' && event.progress < 100 ? [{ event, at }] : [],
    )
    expect(progress.length).toBeGreaterThan(10)
    for (const { event, at } of progress) {
      const elapsed = (100 * (at - startedAt)) / (endedAt - startedAt)
      // Real timers on a shared machine: a loose bound; the benchmark measures it.
      expect(Math.abs(event.progress - elapsed)).toBeLessThan(20)
      expect(event.estimatedTimeRemaining).toBeDefined()
    }
    // The loader and the latent were cached: the decode was timed once more, they were not.
    expect(on.costModel.cost('VAEDecodeTiled').runs).toBe(2)
    expect(on.costModel.cost('VAELoader').runs).toBe(1)
  })
})
