import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Job, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { Subscription } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ComfyExecutionError,
  ComfyValidationError,
  type ComfyUIJobResult,
  type ProgressUpdate,
  type PromptTarget,
  type Workflow,
} from '../../src/index.js'
import { ComfyJobQueue } from '../../src/queue/index.js'
import type { QueuedJobData } from '../../src/queue/QueuedJobData.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { startRedisServer, type RedisServer } from '../store/redisServer.js'
import { isMonotonic } from '../store/storeTestKit.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

// The fleet of issue 15 under chaos, with real processes: three workers (examples/studio/worker.ts,
// each with its default options and all three pods) over three simulators, a persistent
// redis-server, and the test as the producer and the watchers of every job, on two instances
// (two `ComfyJobQueue`s). Workers are SIGKILLed at random points of the run and replaced by new
// processes (new clientIds); Redis is killed and restarted once. The random choices come from a
// seeded PRNG: QUEUE_CHAOS_SEED=<seed> replays a run's plan (its timing still varies).

const root = fileURLToPath(new URL('../../', import.meta.url))

const JOBS = 300
const WORKERS = 3
const PODS = 3
/** Kill events (one or two workers each), at random numbers of ended jobs. */
const KILL_EVENTS = 4
/** The run's bound: past it, the test reports what did not end and fails (before its timeout). */
const RUN_DEADLINE_MS = 150_000
const QUEUE_NAME = 'comfyui-rx'
const STEPS = 4

/** What a job is made to do: most complete; a few fail, each with its own typed error. */
type Kind = 'ok' | 'invalid' | 'fails'

/** A node type of the simulators that raises: a workflow with it ends in `execution_error`. */
const FAILING_NODE = 'ChaosFail'

function kindOf(index: number): Kind {
  if (index % 50 === 7) return 'invalid'
  if (index % 50 === 23) return 'fails'
  return 'ok'
}

/** txt2img, unique by its seed (so that each generation is told apart in the pods' histories). */
function workflowOf(index: number, kind: Kind): Workflow {
  const base = txt2img as Workflow
  const workflow: Record<string, Workflow[string]> = {
    ...base,
    '3': { ...base['3']!, inputs: { ...base['3']!.inputs, steps: STEPS, seed: seedOf(index) } },
    '9': { ...base['9']!, inputs: { ...base['9']!.inputs, filename_prefix: `chaos_${index}` } },
  }
  // Refused by the pod's validation (POST /prompt answers 400): never generated.
  if (kind === 'invalid')
    workflow['4'] = { ...base['4']!, inputs: { ckpt_name: 'missing.safetensors' } }
  // Generated, and failing in a node: an `execution_error` in the pod's history.
  if (kind === 'fails') {
    workflow['10'] = { class_type: FAILING_NODE, inputs: { samples: ['3', 0] } }
    workflow['8'] = { ...base['8']!, inputs: { ...base['8']!.inputs, samples: ['10', 0] } }
  }
  return workflow
}

function originOf(url: string): string {
  return new URL(url).origin
}

function seedOf(index: number): number {
  return 1_000_000 + index
}

/** A small deterministic PRNG (mulberry32), so that a run's plan can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether `promise` settles within `ms` (its timer cleared either way). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** A worker process of the fleet. */
interface WorkerProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves once it takes jobs and printed its clientIds; rejects if it exits before. */
  readonly ready: Promise<void>
  /** The clientIds of its pods, once it is ready. */
  clientIds: readonly string[]
  killed: boolean
}

/** A job of a worker killed while its prompt waited on a held pod. */
interface DeadJob {
  readonly job: ChaosJob
  /** Its stalls before. */
  readonly stalls: number
  readonly target: PromptTarget
  /** Sockets registered on its pod under its clientId before the kill. */
  readonly sockets: number
}

/** An `events$` stream opened by the test, and what it gave. */
interface Watch {
  readonly updates: ProgressUpdate[]
  ended: boolean
  error?: unknown
  readonly done: Promise<void>
}

/** A job the test added. */
interface ChaosJob {
  readonly index: number
  readonly jobId: string
  readonly kind: Kind
  promptId: string
  watchA?: Watch
  watchB?: Watch
  outcome?: { readonly result?: ComfyUIJobResult; readonly error?: unknown }
  result?: Promise<void>
}

// Everything the test starts, stopped after it whatever happens.
const children: WorkerProcess[] = []
const cleanups: (() => unknown)[] = []

/** Ends the test's chaos: no kill nor new worker process after it. */
let stopChaos = () => {}

afterEach(async () => {
  stopChaos()
  for (const worker of children.splice(0)) {
    const { child } = worker
    child.stdin?.destroy()
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
  }
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup()
    } catch {
      // Going on with the others.
    }
  }
})

describe('the job queue under chaos', () => {
  it(`ends ${JOBS} jobs exactly once, each generated once, while workers are SIGKILLed and Redis restarts`, async () => {
    const seed = Number(process.env['QUEUE_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31))
    const random = mulberry32(seed)
    const log = (message: string) => console.info(`[queue chaos, seed ${seed}] ${message}`)
    const startedAt = Date.now()
    const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`
    log(`replay with QUEUE_CHAOS_SEED=${seed}`)

    // --- Redis, persistent: its data survive the restart.
    const redis: RedisServer = await startRedisServer({ persistent: true })
    cleanups.push(() => redis.close())

    // --- The pods, and each prompt's generations on them (counted as they happen: a history is
    // keyed by promptId, a second generation of the same prompt would overwrite its entry).
    const simulators: ComfySimulator[] = []
    const queuedOn = new Map<string, string[]>()
    const startedOn = new Map<string, string[]>()
    const finishedAs = new Map<string, string[]>()
    /** The sockets registered under each clientId on each pod ("<url> <clientId>"). */
    const connections = new Map<string, string[]>()
    const push = (map: Map<string, string[]>, key: string, value: string) =>
      map.set(key, [...(map.get(key) ?? []), value])
    for (let p = 0; p < PODS; p++) {
      const simulator = await startComfySimulator({
        nodeDurationMs: 1,
        stepDurationMs: 5,
        previews: false,
        nodeTypes: {
          [FAILING_NODE]: {
            input: { required: { samples: ['LATENT'] } },
            output: ['LATENT'],
            execute: () => {
              throw new Error('chaos: this workflow fails')
            },
          },
        },
      })
      cleanups.push(() => simulator.close())
      const pod = `pod${p}`
      simulator.on('promptQueued', (promptId) => push(queuedOn, promptId, pod))
      simulator.on('promptStarted', (promptId) => push(startedOn, promptId, pod))
      simulator.on('promptFinished', (promptId, outcome) => push(finishedAs, promptId, outcome))
      simulator.on('connection', (clientId) =>
        push(connections, `${originOf(simulator.url)} ${clientId}`, ''),
      )
      simulators.push(simulator)
    }
    const podUrls = simulators.map((simulator) => simulator.url)

    // --- The workers, each a process (SIGKILL kills the worker itself: node runs tsx's loader).
    let spawned = 0
    let tearingDown = false
    const crashes: string[] = []
    const spawnWorker = (): WorkerProcess => {
      const name = `w${++spawned}`
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'examples/studio/worker.ts', redis.url, podUrls.join(',')],
        // Its stdin is its lifeline: it exits when the test process goes.
        { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
      )
      let output = ''
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
      const worker: WorkerProcess = {
        name,
        child,
        killed: false,
        clientIds: [],
        ready: new Promise<void>((resolve, reject) => {
          child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
            output += chunk
            const printed = /^clientIds (.*)$/m.exec(output)
            if (printed === null) return
            worker.clientIds = JSON.parse(printed[1]!) as string[]
            resolve()
          })
          child.once('exit', (code, signal) =>
            reject(new Error(`${name} exited (${String(code ?? signal)}): ${output}`)),
          )
        }),
      }
      worker.ready.catch(() => {})
      child.once('exit', (code, signal) => {
        if (!worker.killed && !tearingDown)
          crashes.push(`${name} exited by itself (${String(code ?? signal)}): ${output}`)
      })
      children.push(worker)
      return worker
    }
    const live = () => children.filter((worker) => !worker.killed)
    await Promise.all(Array.from({ length: WORKERS }, () => spawnWorker().ready))
    log(`${WORKERS} workers ready at ${elapsed()}`)

    // --- Two instances of the producer side: A adds the jobs and watches each; B watches each
    // too, from a random point of the run, and gives every other result.
    const queueA = new ComfyJobQueue({ connection: redis.url })
    const queueB = new ComfyJobQueue({ connection: redis.url })
    cleanups.push(
      () => queueA.close(),
      () => queueB.close(),
    )
    const inspector = new Queue(QUEUE_NAME, {
      connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
    })
    inspector.on('error', () => {})
    cleanups.push(() => inspector.close())
    const subscriptions: Subscription[] = []
    const timers: NodeJS.Timeout[] = []
    cleanups.push(() => {
      for (const timer of timers) clearTimeout(timer)
      for (const subscription of subscriptions) subscription.unsubscribe()
    })
    const watch = (queue: ComfyJobQueue, jobId: string): Watch => {
      let settle!: () => void
      const watched: Watch = {
        updates: [],
        ended: false,
        done: new Promise<void>((resolve) => (settle = resolve)),
      }
      subscriptions.push(
        queue.events$(jobId).subscribe({
          next: (update) => watched.updates.push(update),
          error: (error: unknown) => {
            watched.error = error
            watched.ended = true
            settle()
          },
          complete: () => {
            watched.ended = true
            settle()
          },
        }),
      )
      return watched
    }

    const jobs: ChaosJob[] = Array.from({ length: JOBS }, (_, index) => ({
      index,
      jobId: `chaos-${index}`,
      kind: kindOf(index),
      promptId: '',
    }))
    let ended = 0
    const openB = (job: ChaosJob) => {
      if (job.watchB === undefined) job.watchB = watch(queueB, job.jobId)
    }
    const added = (async () => {
      // Added in batches while the fleet already runs (and may lose a worker).
      for (let from = 0; from < JOBS; from += 20) {
        await Promise.all(
          jobs.slice(from, from + 20).map(async (job) => {
            const queued = await queueA.add(workflowOf(job.index, job.kind), { jobId: job.jobId })
            job.promptId = queued.promptId
            job.watchA = watch(queueA, job.jobId)
            void job.watchA.done.then(() => ended++)
            timers.push(setTimeout(() => openB(job), random() * 20_000))
            const queue = job.index % 2 === 0 ? queueA : queueB
            job.result = queue.result(job.jobId).then(
              (result) => void (job.outcome = { result }),
              (error: unknown) => void (job.outcome = { error }),
            )
          }),
        )
        await sleep(100)
      }
    })()

    // --- The chaos plan, drawn from the seed: kill events, and one Redis restart.
    // One kill event holds the pods (they take no prompt) from before the kill until its jobs
    // are taken over: the dead worker's prompts are then still on the pods, and are followed
    // live by the workers that take them over, rather than found done in the pods' histories.
    type Step =
      | {
          type: 'kill'
          at: number
          delayMs: number
          victims: number
          restartAfterMs: number
          holdPods: boolean
        }
      | { type: 'redis'; at: number; delayMs: number; downMs: number }
    const holding = Math.floor(random() * KILL_EVENTS)
    const plan: Step[] = [
      ...Array.from({ length: KILL_EVENTS }, (_, k): Step => ({
        type: 'kill',
        at: Math.floor(JOBS * (0.05 + 0.8 * random())),
        delayMs: Math.floor(random() * 300),
        victims: random() < 0.25 ? 2 : 1,
        restartAfterMs: Math.floor(random() * 2_000),
        holdPods: k === holding,
      })),
      {
        type: 'redis' as const,
        at: Math.floor(JOBS * (0.3 + 0.35 * random())),
        delayMs: Math.floor(random() * 300),
        downMs: 200 + Math.floor(random() * 1_300),
      },
    ].sort((a, b) => a.at - b.at)
    log(`plan: ${JSON.stringify(plan)}`)

    const done = { value: false }
    stopChaos = () => (done.value = true)
    /** What went wrong in the chaos itself. */
    const chaosErrors: string[] = []
    /** The jobs of the workers killed while the pods were held, and when the pods resumed. */
    const heldTakeovers: Promise<{ jobs: DeadJob[]; resumedAt: number }>[] = []
    const byPromptId = (promptId: string) => jobs.find((job) => job.promptId === promptId)
    const dataOf = async (job: ChaosJob) =>
      (await Job.fromId<QueuedJobData, ComfyUIJobResult>(inspector, job.jobId))!
    /** The jobs whose prompts wait on the held pods, with where they were sent. */
    const pendingOnPods = async () => {
      const pending = simulators.flatMap((simulator) => simulator.pendingPromptIds)
      return Promise.all(
        pending.flatMap((promptId) => {
          const job = byPromptId(promptId)
          return job === undefined ? [] : [dataOf(job).then((bullJob) => ({ job, bullJob }))]
        }),
      )
    }
    /**
     * Resumes the held pods once the dead workers' jobs (`dead`) are taken over: active again
     * (BullMQ counted a stall), and their prompts' clientIds registered again on their pods (the
     * workers that took them over follow them there).
     */
    const resumeAfterTakeover = async (dead: readonly DeadJob[]): Promise<number> => {
      try {
        for (let waited = 0; ; waited += 100) {
          const states = await Promise.all(
            dead.map(async ({ job, stalls, target }) => {
              const bullJob = await dataOf(job)
              const simulator = simulators.find(
                (sim) => originOf(sim.url) === originOf(target.podUrl),
              )!
              return (
                (await bullJob.getState()) === 'active' &&
                bullJob.stalledCounter > stalls &&
                simulator.clientIds.includes(target.clientId)
              )
            }),
          )
          if (states.every(Boolean)) break
          // Past its lease and a few stalled checks: not taken over.
          if (waited > 60_000) {
            chaosErrors.push(`the jobs of the killed worker were not taken over within 60 s`)
            break
          }
          await sleep(100)
        }
        await sleep(200)
      } finally {
        for (const simulator of simulators) simulator.resume()
      }
      return Date.now()
    }
    const restarts: Promise<void>[] = []
    let kills = 0
    let redisRestarts = 0
    const chaos = (async () => {
      for (const step of plan) {
        while (ended < step.at && !done.value) await sleep(20)
        if (done.value) return
        await sleep(step.delayMs)
        const active = await inspector.getActiveCount()
        if (step.type === 'redis') {
          log(`${elapsed()}: Redis killed (${ended} jobs ended, ${active} active)`)
          await redis.kill()
          await sleep(step.downMs)
          await redis.start()
          redisRestarts++
          log(`${elapsed()}: Redis back after ${step.downMs} ms`)
          continue
        }
        // Someone to kill: the replacements of an earlier event, at worst.
        while (live().length === 0) await sleep(20)
        const candidates = live()
        const victims: WorkerProcess[] = []
        let dead: DeadJob[] = []
        if (step.holdPods) {
          // The fleet's jobs reach the pods and wait in their queues; the workers with most of
          // them there are killed. (Tried again a little later while all of them are of workers
          // killed before, whose jobs are not taken over yet.)
          let pending: Awaited<ReturnType<typeof pendingOnPods>> = []
          const owned = (worker: WorkerProcess) =>
            pending.filter(({ bullJob }) =>
              worker.clientIds.includes(bullJob.data.target?.clientId ?? ''),
            )
          for (let tries = 0; tries < 30; tries++) {
            for (const simulator of simulators) simulator.pause()
            await sleep(500)
            pending = await pendingOnPods()
            if (candidates.some((worker) => owned(worker).length > 0)) break
            for (const simulator of simulators) simulator.resume()
            await sleep(500)
          }
          candidates.sort((a, b) => owned(b).length - owned(a).length || random() - 0.5)
          victims.push(...candidates.slice(0, step.victims))
          dead = victims.flatMap(owned).map(({ job, bullJob }) => {
            const target = bullJob.data.target!
            const sockets =
              connections.get(`${originOf(target.podUrl)} ${target.clientId}`)?.length ?? 0
            return { job, stalls: bullJob.stalledCounter, target, sockets }
          })
        } else {
          for (let v = 0; v < step.victims && candidates.length > 0; v++)
            victims.push(...candidates.splice(Math.floor(random() * candidates.length), 1))
        }
        for (const victim of victims) {
          victim.killed = true
          const exited = once(victim.child, 'exit')
          victim.child.kill('SIGKILL')
          await exited
          kills++
        }
        const pending = simulators.map((simulator) => simulator.pendingPromptIds.length)
        const held = step.holdPods
          ? `, pods held with ${pending.join('+')} prompts pending, of the killed on ` +
            `${JSON.stringify(dead.map(({ target }) => podUrls.map(originOf).indexOf(originOf(target.podUrl))))}`
          : ''
        log(
          `${elapsed()}: SIGKILLed ${victims.map((victim) => victim.name).join(', ')} ` +
            `(${ended} jobs ended, ${active} active${held}); ` +
            `new processes in ${step.restartAfterMs} ms`,
        )
        if (step.holdPods)
          heldTakeovers.push(
            resumeAfterTakeover(dead).then(
              (resumedAt) => {
                log(`${elapsed()}: pods resumed, ${dead.length} jobs taken over`)
                return { jobs: dead, resumedAt }
              },
              (error: unknown) => {
                chaosErrors.push(`while the pods were held: ${String(error)}`)
                return { jobs: [], resumedAt: 0 }
              },
            ),
          )
        restarts.push(
          (async () => {
            await sleep(step.restartAfterMs)
            // Not after the test (nobody would kill them).
            if (done.value) return
            const started = victims.map(() => spawnWorker())
            // One killed before it was ready is replaced by a later event; one that exited by
            // itself is among the crashes.
            await Promise.all(started.map((worker) => worker.ready.catch(() => {})))
            log(`${elapsed()}: ${started.map((worker) => worker.name).join(', ')} started`)
          })(),
        )
      }
    })()

    // --- The run: every stream and every result ends, within the bound.
    await added
    const everything = Promise.all(
      jobs
        .flatMap((job) => [job.watchA!.done, job.result!])
        .concat(chaos.then(async () => void (await Promise.all(heldTakeovers)))),
    )
    const finished = await within(everything, RUN_DEADLINE_MS)
    // The streams of B not opened yet are opened now: on an ended job, they end at once.
    for (const job of jobs) openB(job)
    const allB = Promise.all(jobs.map((job) => job.watchB!.done))
    const finishedB = finished && (await within(allB, 20_000))
    done.value = true
    log(`all streams and results ended: ${String(finishedB)} at ${elapsed()}`)
    if (!finishedB) {
      const stuck = jobs.filter(
        (job) => !job.watchA!.ended || !job.watchB!.ended || job.outcome === undefined,
      )
      const details = await Promise.all(stuck.slice(0, 10).map((job) => describeJob(job)))
      throw new Error(
        `seed ${seed}: ${stuck.length} jobs did not end within the bound:\n${details.join('\n')}`,
      )
    }

    // BullMQ records a job's end just after its final update: every job gets there (one killed
    // in between is taken over, after its lease, and ended by another worker).
    let counts = await inspector.getJobCounts()
    for (let wait = 0; counts['completed']! + counts['failed']! < JOBS && wait < 40_000;) {
      await sleep(200)
      wait += 200
      counts = await inspector.getJobCounts()
    }
    await Promise.all(restarts)
    log(
      `${elapsed()}: ${kills} workers killed, Redis restarted ${redisRestarts} time(s); ` +
        `counts ${JSON.stringify(counts)}`,
    )
    expect(crashes).toEqual([])
    expect(chaosErrors).toEqual([])
    expect(kills).toBeGreaterThanOrEqual(KILL_EVENTS)
    expect(redisRestarts).toBe(1)

    const failing = jobs.filter((job) => job.kind !== 'ok').length
    expect(counts).toMatchObject({
      completed: JOBS - failing,
      failed: failing,
      active: 0,
      waiting: 0,
      delayed: 0,
      prioritized: 0,
      'waiting-children': 0,
    })

    // Each job ended exactly once in BullMQ: one `completed` or `failed` event in its stream.
    const endings = await endingsOf(redis.url)
    const stalled: string[] = []
    for (const job of jobs) {
      const bullJob = await Job.fromId<unknown, ComfyUIJobResult>(inspector, job.jobId)
      expect(bullJob, job.jobId).toBeDefined()
      const state = await bullJob!.getState()
      if (bullJob!.stalledCounter > 0) stalled.push(job.jobId)
      if (job.kind === 'ok') {
        expect({ jobId: job.jobId, state }).toEqual({ jobId: job.jobId, state: 'completed' })
        expect(endings.get(job.jobId), job.jobId).toEqual(['completed'])
        expect(bullJob!.returnvalue.images.length, job.jobId).toBeGreaterThan(0)
      } else {
        expect({ jobId: job.jobId, state }).toEqual({ jobId: job.jobId, state: 'failed' })
        expect(endings.get(job.jobId), job.jobId).toEqual(['failed'])
      }
      // Never retried: nothing in this run is a failure that a new attempt could overcome (a
      // takeover is not an attempt).
      expect(bullJob!.attemptsMade, job.jobId).toBe(1)
      expect(bullJob!.stalledCounter, job.jobId).toBeLessThanOrEqual(KILL_EVENTS)
    }
    const held = (await Promise.all(heldTakeovers)).flatMap(({ jobs: taken, resumedAt }) =>
      taken.map((dead) => ({ ...dead, resumedAt })),
    )
    const followed = await Promise.all(
      held.map(async ({ job, target, sockets, resumedAt }) => {
        const bullJob = await dataOf(job)
        const adopters =
          connections.get(`${originOf(target.podUrl)} ${target.clientId}`)!.length - sockets
        return {
          jobId: job.jobId,
          // A job of a failing kind has no result.
          method: (bullJob.returnvalue as ComfyUIJobResult | null)?.method ?? 'failed',
          endedAfterResumeMs: bullJob.finishedOn! - resumedAt,
          // Sockets opened under the dead worker's clientId on that pod by the workers that
          // took its jobs over: one (the adoption's holder; the others follow over REST), as a
          // pod keeps one socket per clientId.
          adopters,
        }
      }),
    )
    log(
      `${stalled.length} jobs were taken over from a killed worker; ` +
        `${held.length} while their prompts waited on the held pods: ${JSON.stringify(followed)}`,
    )
    // Not vacuous: killed workers had jobs, and others took them over.
    expect(stalled.length).toBeGreaterThan(0)
    // Those whose prompt was still on its pod are followed there, live, over a socket under the
    // dead worker's clientId by one of the workers that took them over (the others poll): they
    // end as soon as their prompt does.
    expect(held.length).toBeGreaterThan(0)
    expect(followed.some(({ method }) => method === 'websocket')).toBe(true)
    for (const { jobId, endedAfterResumeMs } of followed)
      expect({ jobId, ended: endedAfterResumeMs < 10_000 }).toEqual({ jobId, ended: true })

    // Zero duplicate generations: each prompt queued, started and finished once, on one pod.
    const history = await historySeeds(simulators)
    for (const job of jobs) {
      const generated = job.kind === 'invalid' ? 0 : 1
      const what = `${job.jobId} (${job.kind}, prompt ${job.promptId})`
      expect(queuedOn.get(job.promptId) ?? [], what).toHaveLength(generated)
      expect(startedOn.get(job.promptId) ?? [], what).toHaveLength(generated)
      expect(finishedAs.get(job.promptId) ?? [], what).toEqual(
        generated === 0 ? [] : [job.kind === 'ok' ? 'success' : 'error'],
      )
      expect(history.get(seedOf(job.index)) ?? 0, what).toBe(generated)
    }
    expect([...queuedOn.keys()].length).toBe(JOBS - jobs.filter((j) => j.kind === 'invalid').length)

    // Every stream, on either instance, ended with the job's final state, never going back.
    for (const job of jobs) {
      for (const watched of [job.watchA!, job.watchB!]) {
        expect(watched.error, job.jobId).toBeUndefined()
        const last = watched.updates.at(-1)
        if (job.kind === 'ok')
          expect(last, job.jobId).toMatchObject({ status: 'completed', progress: 100 })
        else expect(last, job.jobId).toMatchObject({ status: 'failed' })
        expect(
          watched.updates.filter((update) => isFinal(update)),
          job.jobId,
        ).toHaveLength(1)
        expect(isMonotonic(watched.updates.map((update) => update.progress)), job.jobId).toBe(true)
        expect(isMonotonic(watched.updates.map((update) => RANK[update.status])), job.jobId).toBe(
          true,
        )
      }
      // And its result, of its kind, on either instance.
      const { result, error } = job.outcome!
      if (job.kind === 'ok') {
        expect(error, job.jobId).toBeUndefined()
        expect(result!.status).toBe('completed')
        expect(result!.images.length, job.jobId).toBeGreaterThan(0)
        expect(result!.images[0]!.filename, job.jobId).toMatch(`chaos_${job.index}_`)
      } else {
        expect(error, job.jobId).toBeInstanceOf(
          job.kind === 'invalid' ? ComfyValidationError : ComfyExecutionError,
        )
      }
    }
    log(`passed in ${elapsed()}`)
    tearingDown = true

    /** What the test knows of a job that did not end, for the failure's message. */
    async function describeJob(job: ChaosJob): Promise<string> {
      const bullJob = await Job.fromId(inspector, job.jobId).catch(() => undefined)
      const state = await bullJob?.getState().catch(() => 'unknown')
      const raw = new Redis(redis.url)
      const latest = await raw.get(`comfyui-rx:progress:${job.promptId}`).catch(() => null)
      raw.disconnect()
      return JSON.stringify({
        jobId: job.jobId,
        kind: job.kind,
        promptId: job.promptId,
        state,
        data: bullJob === undefined ? undefined : { ...bullJob.data, workflow: undefined },
        attemptsMade: bullJob?.attemptsMade,
        stalledCounter: bullJob?.stalledCounter,
        latest,
        streamA: job.watchA?.updates.map((update) => `${update.status} ${update.progress}`),
        streamB: job.watchB?.updates.map((update) => `${update.status} ${update.progress}`),
        outcome: job.outcome === undefined ? 'pending' : job.outcome.error ? 'error' : 'result',
        queuedOn: queuedOn.get(job.promptId),
        startedOn: startedOn.get(job.promptId),
        finishedAs: finishedAs.get(job.promptId),
      })
    }
  }, 240_000)
})

const RANK: Readonly<Record<ProgressUpdate['status'], number>> = {
  queued: 0,
  processing: 1,
  completed: 2,
  failed: 2,
}

function isFinal(update: ProgressUpdate): boolean {
  return update.status === 'completed' || update.status === 'failed'
}

/** The `completed` and `failed` events of each job in BullMQ's event stream. */
async function endingsOf(url: string): Promise<Map<string, string[]>> {
  const redis = new Redis(url)
  try {
    const entries = await redis.xrange(`bull:${QUEUE_NAME}:events`, '-', '+')
    const endings = new Map<string, string[]>()
    for (const [, fields] of entries) {
      const record = new Map<string, string>()
      for (let i = 0; i + 1 < fields.length; i += 2) record.set(fields[i]!, fields[i + 1]!)
      const event = record.get('event')
      const jobId = record.get('jobId')
      if (jobId === undefined || (event !== 'completed' && event !== 'failed')) continue
      endings.set(jobId, [...(endings.get(jobId) ?? []), event])
    }
    return endings
  } finally {
    redis.disconnect()
  }
}

/** How many times each seed was generated, over the histories of all pods. */
async function historySeeds(simulators: readonly ComfySimulator[]): Promise<Map<number, number>> {
  const seeds = new Map<number, number>()
  for (const simulator of simulators) {
    const response = await fetch(`${simulator.url}/history`)
    const history = (await response.json()) as Record<
      string,
      { prompt: [number, string, Workflow] }
    >
    for (const entry of Object.values(history)) {
      const seed = Number(entry.prompt[2]['3']?.inputs['seed'])
      seeds.set(seed, (seeds.get(seed) ?? 0) + 1)
    }
  }
  return seeds
}
