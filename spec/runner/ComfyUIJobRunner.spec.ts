import { createServer } from 'node:net'
import { filter, firstValueFrom, lastValueFrom, tap, toArray } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyPod,
  ComfyPromptLostError,
  ComfyTimeoutError,
  ComfyValidationError,
  type ComfyPodOptions,
} from '../../src/index.js'
import type { AnalyticsEvent } from '../../src/analytics/AnalyticsEvent.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import type { ComfyUIJobRunnerOptions } from '../../src/runner/ComfyUIJobRunnerOptions.js'
import type { RunnerPodStatus } from '../../src/runner/RunnerPod.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { failure, tinyImage, txt2imgWith, until } from '../compat/workflows.js'

const POD_OPTIONS: ComfyPodOptions = {
  idleCloseMs: 20,
  connectTimeoutMs: 1_000,
  reconnectDelayMs: 10,
  maxReconnectDelayMs: 60_000,
  maxReconnectAttempts: 1,
  requestTimeoutMs: 2_000,
}
const JOB = { progressThrottleMs: 0, pollIntervalMs: 20, timeoutMs: 15_000 }

const simulators: ComfySimulator[] = []
const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  for (const simulator of simulators.splice(0)) await simulator.close()
})

/** Starts simulators that record the prompts queued on them. */
async function simulatorsOf(count: number) {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const simulator = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
      simulators.push(simulator)
      const queued: string[] = []
      simulator.on('promptQueued', (promptId) => queued.push(promptId))
      return Object.assign(simulator, { queued })
    }),
  )
}

function runner(options: ComfyUIJobRunnerOptions): ComfyUIJobRunner {
  const created = new ComfyUIJobRunner({
    podOptions: POD_OPTIONS,
    healthCheckTimeoutMs: 1_000,
    healthCheckIntervalMs: 60_000,
    podRetryMs: 50,
    ...options,
  })
  cleanups.push(() => created.close())
  return created
}

function pods(
  target: ComfyUIJobRunner,
  predicate: (pods: readonly RunnerPodStatus[]) => boolean,
): Promise<readonly RunnerPodStatus[]> {
  return firstValueFrom(target.pods$.pipe(filter(predicate)))
}

const allHealthy = (list: readonly RunnerPodStatus[]) => list.every((pod) => pod.healthy)

/** A URL on which nothing listens: connections are refused. */
async function refusedUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${address.port}`
}

describe('ComfyUIJobRunner dispatch', () => {
  it('runs a job on a healthy pod and counts it in the funnel metrics', async () => {
    const [a, b] = await simulatorsOf(2)
    const target = runner({ pods: [a!.url, b!.url] })
    await pods(target, allHealthy)
    const progress: number[] = []
    const result = await target.submit(txt2imgWith(4), {
      ...JOB,
      onProgress: (value) => progress.push(value),
    })
    expect(result).toMatchObject({ status: 'completed', method: 'websocket' })
    expect(progress.at(-1)).toBe(100)
    expect(a!.queued).toEqual([result.promptId])
    expect(b!.queued).toEqual([])
    expect(target.metrics).toEqual({
      jobs: 1,
      dispatched: 1,
      retried: 0,
      connectionsOpened: 2,
      connectionsFailed: 0,
      connectionSuccessRate: 1,
      fallbacks: 0,
      fallbackRate: 0,
      progressUpdates: progress.length,
      completed: { websocket: 1, rest_polling: 0 },
      failed: 0,
      completionRate: { websocket: 1, rest_polling: 0 },
    })
  })

  it('sends new jobs to the pod with the least work, counting its queue_remaining', async () => {
    const [busy, b, c] = await simulatorsOf(3)
    busy!.pause()
    const external = new ComfyPod(busy!.url)
    cleanups.push(() => external.close())
    for (let i = 0; i < 3; i++) await external.queueWorkflow(tinyImage())
    const target = runner({ pods: [busy!.url, b!.url, c!.url], concurrencyPerPod: 2 })
    await pods(target, (list) => allHealthy(list) && list[0]!.queueRemaining === 3)
    const results = await Promise.all(
      Array.from({ length: 4 }, () => target.submit(tinyImage(), JOB)),
    )
    expect(results.every((result) => result.status === 'completed')).toBe(true)
    expect(busy!.queued).toHaveLength(3) // only the external ones
    expect(b!.queued).toHaveLength(2)
    expect(c!.queued).toHaveLength(2)
  })

  it('holds at most concurrencyPerPod jobs on a pod and queues the rest in the runner', async () => {
    const [a, b] = await simulatorsOf(2)
    const target = runner({ pods: [a!.url, b!.url], concurrencyPerPod: 1 })
    await pods(target, allHealthy)
    const inFlight: number[] = []
    const watching = target.pods$.subscribe((list) =>
      inFlight.push(...list.map((pod) => pod.inFlight)),
    )
    cleanups.push(() => watching.unsubscribe())
    const onPod: number[] = []
    for (const simulator of [a!, b!])
      simulator.on('promptQueued', () => onPod.push(simulator.queueRemaining))
    const results = await Promise.all(
      Array.from({ length: 6 }, () => target.submit(txt2imgWith(2), JOB)),
    )
    expect(results).toHaveLength(6)
    expect(Math.max(...inFlight)).toBe(1)
    expect(Math.max(...onPod)).toBe(1)
    expect(a!.queued.length + b!.queued.length).toBe(6)
    expect(a!.queued.length).toBeGreaterThan(0)
    expect(b!.queued.length).toBeGreaterThan(0)
  })

  it('rejects a job the pods reject, without trying another pod', async () => {
    const [a, b] = await simulatorsOf(2)
    const target = runner({ pods: [a!.url, b!.url] })
    await pods(target, allHealthy)
    const broken = { '1': { class_type: 'NoSuchNode', inputs: {} } }
    expect(await failure(target.submit(broken, JOB))).toBeInstanceOf(ComfyValidationError)
    expect(target.metrics).toMatchObject({ dispatched: 1, retried: 0, failed: 1 })
  })
})

describe('ComfyUIJobRunner when pods fail', () => {
  it('sends every job around a pod that is down from the start', async () => {
    const [b] = await simulatorsOf(1)
    const captured: AnalyticsEvent[] = []
    const target = runner({
      pods: [await refusedUrl(), b!.url],
      analytics: { capture: (event) => captured.push(event) },
    })
    const results = await Promise.all(
      Array.from({ length: 3 }, () => target.submit(tinyImage(), JOB)),
    )
    expect(results.map((result) => result.status)).toEqual(['completed', 'completed', 'completed'])
    expect(b!.queued).toHaveLength(3)
    expect(target.pods.map((pod) => pod.healthy)).toEqual([false, true])
    expect(
      captured.filter((event) => event.event === 'comfyui_job_websocket_completed'),
    ).toHaveLength(3)
  })

  it('sends a job once to another pod when its pod refuses the prompt before taking it', async () => {
    const [a, b] = await simulatorsOf(2)
    // Pod a's REST goes to a closed port once `dead`: a genuine ECONNREFUSED, while its socket,
    // already open, stays up — the runner still sees it healthy when it picks it.
    let dead = false
    const refused = await refusedUrl()
    const podA = new ComfyPod(a!.url, {
      ...POD_OPTIONS,
      fetch: (input, init) => (dead ? fetch(refused, init) : fetch(input, init)),
    })
    cleanups.push(() => podA.close())
    const captured: AnalyticsEvent[] = []
    const target = runner({
      pods: [podA, b!.url],
      analytics: { capture: (event) => captured.push(event) },
    })
    await pods(target, allHealthy)
    dead = true
    const result = await target.submit(txt2imgWith(3), JOB)
    expect(result).toMatchObject({ status: 'completed', method: 'websocket' })
    expect(a!.queued).toEqual([])
    expect(b!.queued).toEqual([result.promptId])
    expect(target.metrics).toMatchObject({ jobs: 1, dispatched: 2, retried: 1, failed: 0 })
    expect(captured.map((event) => event.event)).not.toContain('comfyui_job_websocket_failed')
    await pods(target, (list) => !list[0]!.healthy) // the refusal took pod a out of the rotation
  })

  it('never sends a job elsewhere once its pod has taken it, even when the pod dies', async () => {
    const [a, b] = await simulatorsOf(2)
    const target = runner({ pods: [a!.url, b!.url] })
    await pods(target, allHealthy)
    const job$ = target.run$(txt2imgWith(40), JOB).pipe(
      tap((event) => {
        if (event.type === 'started') void a!.restart({ downtimeMs: 100 })
      }),
    )
    const error = await failure(lastValueFrom(job$))
    expect(error).toBeInstanceOf(ComfyPromptLostError)
    expect(a!.queued).toHaveLength(1)
    expect(b!.queued).toEqual([])
    expect(target.metrics).toMatchObject({ dispatched: 1, retried: 0, failed: 1 })
  })

  it('does not resend a job whose POST /prompt was cut after the pod had queued it', async () => {
    const [a, b] = await simulatorsOf(2)
    const target = runner({ pods: [a!.url, b!.url] })
    await pods(target, allHealthy)
    // The pod queues the prompt, then dies before it answers: the prompt may run there.
    a!.once('promptQueued', () => void a!.restart({ downtimeMs: 100 }))
    const error = await failure(target.submit(tinyImage(), JOB))
    expect(error).toMatchObject({ name: 'ComfyHttpError', method: 'POST', status: 0 })
    expect(a!.queued).toHaveLength(1)
    expect(b!.queued).toEqual([])
    expect(target.metrics).toMatchObject({ dispatched: 1, retried: 0, failed: 1 })
  })

  it('takes a pod whose socket is lost out of the rotation, and back once it returns', async () => {
    const [a, b] = await simulatorsOf(2)
    const failedAttempts: AnalyticsEvent[] = []
    const target = runner({
      pods: [a!.url, b!.url],
      analytics: {
        capture: (event) => {
          if (event.event === 'comfyui_websocket_connection_failed') failedAttempts.push(event)
        },
      },
    })
    await pods(target, allHealthy)
    a!.refuseSockets(true)
    a!.dropSockets()
    await pods(target, (list) => !list[0]!.healthy && list[1]!.healthy)
    const meanwhile = await target.submit(tinyImage(), JOB)
    expect(b!.queued).toEqual([meanwhile.promptId])
    await until(() => failedAttempts.length > 0)
    a!.refuseSockets(false)
    await pods(target, allHealthy)
    expect(target.metrics.connectionsFailed).toBe(failedAttempts.length)
    expect(target.metrics.connectionSuccessRate).toBeLessThan(1)
  })

  it('counts a job that fell back to REST polling in the funnel', async () => {
    const [a] = await simulatorsOf(1)
    const target = runner({ pods: [a!.url] })
    await pods(target, allHealthy)
    a!.once('promptStarted', () => {
      a!.refuseSockets(true)
      a!.dropSockets()
    })
    const result = await target.submit(txt2imgWith(30), JOB)
    expect(result.method).toBe('rest_polling')
    expect(target.metrics).toMatchObject({
      fallbacks: 1,
      fallbackRate: 1,
      completed: { websocket: 0, rest_polling: 1 },
      completionRate: { websocket: 0, rest_polling: 1 },
    })
  })

  it('fails a job that no pod takes within its timeoutMs', async () => {
    const target = runner({ pods: [await refusedUrl()] })
    const error = await failure(target.submit(tinyImage(), { ...JOB, timeoutMs: 200 }))
    expect(error).toBeInstanceOf(ComfyTimeoutError)
  })

  it('fails the jobs still waiting when it is closed, and every later one', async () => {
    const target = runner({ pods: [await refusedUrl()] })
    const waiting = failure(lastValueFrom(target.run$(tinyImage(), JOB).pipe(toArray())))
    target.close()
    expect(await waiting).toMatchObject({ name: 'ComfyConnectionError', reason: 'runner_closed' })
    expect(await failure(target.submit(tinyImage(), JOB))).toBeInstanceOf(ComfyConnectionError)
  })
})

describe('ComfyUIJobRunner options', () => {
  it('rejects invalid options with a TypeError naming them', () => {
    expect(() => new ComfyUIJobRunner({ pods: [] })).toThrow(/pods must be a non-empty array/)
    expect(
      () => new ComfyUIJobRunner({ pods: ['http://127.0.0.1:1'], concurrencyPerPod: 0 }),
    ).toThrow(/concurrencyPerPod must be an integer >= 1, received 0/)
    expect(
      () => new ComfyUIJobRunner({ pods: ['http://127.0.0.1:1'], jobType: 'x' as never }),
    ).toThrow(/jobType must be/)
    expect(() => new ComfyUIJobRunner({ pods: ['ftp://x'] })).toThrow(TypeError)
  })

  it('rejects an invalid workflow when the job is made', () => {
    const target = runner({ pods: ['http://127.0.0.1:1'] })
    expect(() => target.run$({ nodes: [] } as never)).toThrow(TypeError)
  })
})
