import type { Observable } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ComfyCancelledError,
  ComfyPod,
  ComfyPromptLostError,
  type JobEvent,
  type Workflow,
} from '../src/index.js'
import {
  startComfySimulator,
  type ComfySimulator,
  type ComfySimulatorOptions,
} from '../src/simulator/index.js'
import txt2img from '../examples/workflows/txt2img.json' with { type: 'json' }
import { startFaultyProxy, type FaultyProxy } from './support/faultyProxy.js'

// Every pod and job here has the options a user gets by default; only the simulator's own step
// and node times are chosen, so that a prompt runs about a second.

const STEP_MS = 50

function workflow(steps = 20): Workflow {
  const graph = txt2img as Workflow
  return {
    ...graph,
    '3': { ...graph['3']!, inputs: { ...graph['3']!.inputs, steps, seed: Math.random() } },
  }
}

let simulator: ComfySimulator
let proxy: FaultyProxy
const pods: ComfyPod[] = []

async function start(version: '0.3.64' | '0.33', options: ComfySimulatorOptions = {}) {
  simulator = await startComfySimulator({ version, stepDurationMs: STEP_MS, ...options })
  proxy = await startFaultyProxy(simulator.url)
}

function pod(): ComfyPod {
  const created = new ComfyPod(proxy.url)
  pods.push(created)
  return created
}

/** When the pod ran the next prompt it starts: wall-clock times of its start and its end. */
function serverRun(): Promise<{ startedAt: number; finishedAt: number; runMs: number }> {
  return new Promise((resolve) => {
    simulator.once('promptStarted', (started) => {
      const startedAt = Date.now()
      const finished = (promptId: string): void => {
        if (promptId !== started) return
        simulator.off('promptFinished', finished)
        const finishedAt = Date.now()
        resolve({ startedAt, finishedAt, runMs: finishedAt - startedAt })
      }
      simulator.on('promptFinished', finished)
    })
  })
}

interface Settled {
  readonly events: JobEvent[]
  readonly error: unknown
  /** Wall-clock time of the one terminal notification. */
  readonly at: number
  readonly terminals: number
}

/** Subscribes now; resolves at the job's end, counting its terminal notifications. */
function settle(job$: Observable<JobEvent>): Promise<Settled> {
  return new Promise((resolve) => {
    const events: JobEvent[] = []
    let terminals = 0
    const end = (error: unknown) => {
      terminals++
      const at = Date.now()
      // A second end would be counted before the test reads the first.
      setTimeout(() => resolve({ events, error, at, terminals }), 50)
    }
    job$.subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => end(error),
      complete: () => end(undefined),
    })
  })
}

function completedOnce(settled: Settled): void {
  expect(settled.error).toBeUndefined()
  expect(settled.terminals).toBe(1)
  expect(settled.events.filter((event) => event.type === 'completed')).toHaveLength(1)
  expect(settled.events.at(-1)?.type).toBe('completed')
}

afterEach(async () => {
  for (const created of pods.splice(0)) created.close()
  await proxy.close()
  await simulator.close()
})

describe.each(['0.3.64', '0.33'] as const)(
  'a job with default options on ComfyUI %s behind a faulty proxy',
  (version) => {
    it('settles within run time + 3 s when the socket is refused', async () => {
      await start(version)
      proxy.upgrades('refuse')
      const run = serverRun()
      const subscribedAt = Date.now()
      const settled = await settle(pod().executeWorkflow$(workflow()))
      completedOnce(settled)
      expect(settled.events.at(-1)?.source).toBe('rest_polling')
      expect(settled.at - subscribedAt).toBeLessThanOrEqual((await run).runMs + 3000)
    }, 20_000)

    it('settles within run time + 3 s when the socket is blackholed', async () => {
      await start(version)
      proxy.upgrades('blackhole')
      const run = serverRun()
      const subscribedAt = Date.now()
      const settled = await settle(pod().executeWorkflow$(workflow()))
      completedOnce(settled)
      expect(settled.at - subscribedAt).toBeLessThanOrEqual((await run).runMs + 3000)
    }, 20_000)

    it('settles within run time + 3 s when the socket drops for good mid-run', async () => {
      await start(version)
      const run = serverRun()
      const subscribedAt = Date.now()
      const job = settle(pod().executeWorkflow$(workflow()))
      simulator.once('promptStarted', () => {
        proxy.upgrades('refuse')
        proxy.drop()
      })
      const settled = await job
      completedOnce(settled)
      expect(settled.events.some((event) => event.source === 'websocket')).toBe(true)
      expect(settled.at - subscribedAt).toBeLessThanOrEqual((await run).runMs + 3000)
    }, 20_000)

    it('replaces a socket that stops carrying bytes and settles within run time + 5 s', async () => {
      await start(version)
      const run = serverRun()
      const subscribedAt = Date.now()
      const connections: string[] = []
      simulator.on('connection', (clientId) => connections.push(clientId))
      const job = settle(pod().executeWorkflow$(workflow()))
      simulator.once('promptStarted', () => proxy.freeze())
      const settled = await job
      completedOnce(settled)
      expect(settled.at - subscribedAt).toBeLessThanOrEqual((await run).runMs + 5000)
      // The frozen socket was replaced under the same clientId.
      expect(connections).toHaveLength(2)
      expect(new Set(connections).size).toBe(1)
    }, 20_000)

    it('keeps the socket of a pod that is quiet for seconds (a model load) and answers pings', async () => {
      await start(version, { nodeTypes: { CheckpointLoaderSimple: { durationMs: 5_000 } } })
      const connections: string[] = []
      simulator.on('connection', (clientId) => connections.push(clientId))
      const settled = await settle(pod().executeWorkflow$(workflow(4)))
      completedOnce(settled)
      expect(connections).toHaveLength(1)
      expect(settled.events.every((event) => event.source === 'websocket')).toBe(true)
    }, 20_000)

    it('ends a pending job within 2 s when another client deletes its prompt', async () => {
      await start(version, { paused: true })
      const queued = new Promise<string>((resolve) => simulator.once('promptQueued', resolve))
      const job = settle(pod().executeWorkflow$(workflow()))
      const promptId = await queued
      // Let the job hear it is queued (its position), then delete it as another client would.
      await new Promise((resolve) => setTimeout(resolve, 200))
      const deletedAt = Date.now()
      const deleted =
        version === '0.33'
          ? await fetch(`${simulator.url}/api/jobs/${promptId}/cancel`, { method: 'POST' })
          : await fetch(`${simulator.url}/queue`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ delete: [promptId] }),
            })
      expect(deleted.status).toBe(200)
      const settled = await job
      expect(settled.error).toBeInstanceOf(ComfyPromptLostError)
      expect(settled.terminals).toBe(1)
      expect(settled.at - deletedAt).toBeLessThanOrEqual(2000)
    }, 20_000)

    it('ends the job at once with ComfyCancelledError when pod.cancel deletes its pending prompt', async () => {
      await start(version, { paused: true })
      const comfy = pod()
      const queued = new Promise<string>((resolve) => simulator.once('promptQueued', resolve))
      const job = settle(comfy.executeWorkflow$(workflow()))
      const promptId = await queued
      const phase = await comfy.cancel(promptId)
      const cancelledAt = Date.now()
      const settled = await job
      expect(phase).toBe('pending')
      // Ended by the time the cancel resolved: ComfyUI says nothing about a deleted prompt.
      expect(settled.at).toBeLessThanOrEqual(cancelledAt)
      expect(settled.error).toBeInstanceOf(ComfyCancelledError)
      expect(settled.error).toMatchObject({ promptId, phase: 'pending' })
      expect(settled.terminals).toBe(1)
      expect(simulator.pendingPromptIds).toEqual([])
    }, 20_000)

    it('ends a running job with ComfyCancelledError (running), and another client’s job runs on', async () => {
      await start(version)
      const mine = pod()
      const theirs = pod()
      const started = new Promise<string>((resolve) => simulator.once('promptStarted', resolve))
      const myJob = settle(mine.executeWorkflow$(workflow(40)))
      const myPromptId = await started
      const theirJob = settle(theirs.executeWorkflow$(workflow()))
      expect(await mine.cancel(myPromptId)).toBe('running')
      const settled = await myJob
      expect(settled.error).toMatchObject({ name: 'ComfyCancelledError', phase: 'running' })
      completedOnce(await theirJob)
    }, 20_000)
  },
)
