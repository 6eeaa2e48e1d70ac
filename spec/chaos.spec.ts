import { lastValueFrom, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import {
  ComfyError,
  ComfyExecutionError,
  ComfyHttpError,
  ComfyInterruptedError,
  ComfyPod,
  ComfyPromptLostError,
  type JobEvent,
  type Workflow,
} from '../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../src/simulator/index.js'

const PODS = 5
const JOBS_PER_POD = 100

/** A small deterministic PRNG, so that a failing run can be replayed with its seed. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function workflow(n: number): Workflow {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: n } },
    '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: `chaos_${n}` } },
  }
}

type Truth = 'success' | 'error' | 'interrupted'

interface PodRun {
  readonly simulator: ComfySimulator
  readonly truth: Map<string, Truth>
  restarts: number[]
}

const FAULTS: ((run: PodRun, random: () => number) => void)[] = [
  ({ simulator }) => simulator.dropSockets(),
  ({ simulator }) => {
    simulator.refuseSockets(true)
    simulator.dropSockets()
    setTimeout(() => simulator.refuseSockets(false), 80)
  },
  ({ simulator }) => {
    simulator.setSilent(true)
    setTimeout(() => simulator.setSilent(false), 150)
  },
  ({ simulator }) => simulator.failEndpoint({ path: /^\/history\//, status: 500, times: 3 }),
  ({ simulator }) => simulator.sendRawFrame('{"type":"progress","data":{"value":"x"}}'),
  ({ simulator }) => simulator.sendRawFrame(new Uint8Array([0, 0, 0, 4, 255, 255, 255, 255])),
  ({ simulator }) => simulator.failNode({ classType: 'ImageInvert', message: 'chaos' }),
  ({ simulator }) =>
    void fetch(`${simulator.url}/interrupt`, { method: 'POST' }).catch(() => undefined),
  (run) => {
    run.restarts.push(Date.now())
    void run.simulator.restart({ downtimeMs: 30 })
  },
]

describe('chaos', () => {
  it(`ends each of ${PODS * JOBS_PER_POD} jobs on ${PODS} faulty pods exactly once, as the pod decided, and leaves nothing behind`, async () => {
    const seed = Number(process.env['CHAOS_SEED'] ?? 20261128)
    const random = mulberry32(seed)
    const handlesBefore = process
      .getActiveResourcesInfo()
      .filter((kind) => kind !== 'TTYWrap').length

    const runs: PodRun[] = []
    for (let i = 0; i < PODS; i++) {
      const simulator = await startComfySimulator({ nodeDurationMs: 1, stepDurationMs: 1 })
      const run: PodRun = { simulator, truth: new Map(), restarts: [] }
      simulator.on('promptFinished', (promptId, outcome) => run.truth.set(promptId, outcome))
      runs.push(run)
    }
    const pods = runs.map(
      (run) =>
        new ComfyPod(run.simulator.url, {
          idleCloseMs: 10,
          connectTimeoutMs: 200,
          reconnectDelayMs: 10,
          maxReconnectDelayMs: 50,
          maxReconnectAttempts: 3,
        }),
    )
    const faults = setInterval(() => {
      const run = runs[Math.floor(random() * runs.length)]!
      FAULTS[Math.floor(random() * FAULTS.length)]!(run, random)
    }, 100)

    const outcomes = await Promise.all(
      pods.flatMap((pod, p) =>
        Array.from({ length: JOBS_PER_POD }, async (_, j) => {
          const seen: JobEvent[] = []
          let terminals = 0
          let error: unknown
          await lastValueFrom(
            pod
              .executeWorkflow$(workflow(p * 1000 + j), {
                progressThrottleMs: 0,
                pollIntervalMs: 20,
                stallTimeoutMs: 300,
                timeoutMs: 60_000,
              })
              .pipe(toArray()),
          ).then(
            (events) => {
              seen.push(...events)
              terminals++
            },
            (e: unknown) => {
              error = e
              terminals++
            },
          )
          return { run: runs[p]!, seen, terminals, error, endedAt: Date.now() }
        }),
      ),
    )
    clearInterval(faults)

    for (const { run, seen, terminals, error, endedAt } of outcomes) {
      expect(terminals).toBe(1)
      const completions = seen.filter((event) => event.type === 'completed')
      const promptId = seen[0]?.promptId ?? (error as { promptId?: string } | undefined)?.promptId
      const truth = promptId === undefined ? undefined : run.truth.get(promptId)
      const restartedMeanwhile = run.restarts.some((at) => at <= endedAt)
      if (error === undefined) {
        expect(completions).toHaveLength(1)
        expect(seen.at(-1)?.type).toBe('completed')
        expect(truth).toBe('success')
      } else if (error instanceof ComfyExecutionError) {
        expect(truth).toBe('error')
      } else if (error instanceof ComfyInterruptedError) {
        expect(truth).toBe('interrupted')
      } else if (error instanceof ComfyPromptLostError) {
        // Only a restart loses prompts (and the history of those that had finished).
        expect(restartedMeanwhile).toBe(true)
      } else {
        // A POST /prompt cut by a restart: the job was never queued as far as it knows.
        expect(error).toBeInstanceOf(ComfyHttpError)
        expect(restartedMeanwhile).toBe(true)
      }
      expect(error === undefined || error instanceof ComfyError).toBe(true)
    }
    // Not vacuous: many jobs get through, and the faults reach others (restarts lose whole queues).
    const byOutcome = new Map<string, number>()
    for (const { error } of outcomes) {
      const name = error === undefined ? 'completed' : (error as Error).name
      byOutcome.set(name, (byOutcome.get(name) ?? 0) + 1)
    }
    expect(byOutcome.get('completed')).toBeGreaterThan(PODS * JOBS_PER_POD * 0.2)
    expect(byOutcome.size).toBeGreaterThanOrEqual(2)

    for (const pod of pods) pod.close()
    for (const { simulator } of runs) {
      await new Promise<void>((resolve) => {
        const check = () => (simulator.openSockets === 0 ? resolve() : setTimeout(check, 5))
        check()
      })
      await simulator.close()
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    const handlesAfter = process
      .getActiveResourcesInfo()
      .filter((kind) => kind !== 'TTYWrap').length
    expect(handlesAfter).toBeLessThanOrEqual(handlesBefore)
  }, 120_000)
})
