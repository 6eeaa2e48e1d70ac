import { filter, firstValueFrom, lastValueFrom, map, tap } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ComfyPodOptions, ComfyUIJobResult } from '../../src/index.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import { toServerSentEvents } from '../../src/sse/toServerSentEvents.js'
import type { ProgressStoreDiagnostic } from '../../src/store/ProgressStore.js'
import { RedisProgressStore, type RedisProgressStoreOptions } from '../../src/store/index.js'
import { watchProgress$ } from '../../src/store/watchProgress.js'
import { startServer, type TestServer } from '../sse/sseClient.js'
import { startRedisServer, type RedisServer } from './redisServer.js'
import {
  isMonotonic,
  startGatedSimulator,
  txt2imgWith,
  UpdateReader,
  type GatedSimulator,
} from './storeTestKit.js'

// Several backend instances sharing a real redis-server (started here on a free port): the job
// runs on instance A, the browser's progress stream is served by instance B from the store. The
// simulator's sampler waits at gates, so that "mid-job" never depends on timing.

const POD_OPTIONS: ComfyPodOptions = {
  connectTimeoutMs: 2_000,
  reconnectDelayMs: 10,
  maxReconnectDelayMs: 100,
  requestTimeoutMs: 5_000,
}
// Reconnects every 20 ms, so that a restarted Redis is found again at once.
const STORE_OPTIONS: RedisProgressStoreOptions = { redisOptions: { retryStrategy: () => 20 } }

let redis: RedisServer
let gated: GatedSimulator
const cleanups: (() => unknown)[] = []

beforeEach(async () => {
  // One after the other, each closed after the test once it is up: a server that could not start
  // fails the test with that reason alone, and leaves nothing running.
  redis = closedAfterTest(await startRedisServer())
  gated = closedAfterTest(await startGatedSimulator())
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Closes `resource` after the test, after what was opened later. */
function closedAfterTest<T extends { close(): unknown }>(resource: T): T {
  cleanups.push(() => resource.close())
  return resource
}

function runner(storeOfInstance: RedisProgressStore): ComfyUIJobRunner {
  const created = new ComfyUIJobRunner({
    pods: [gated.simulator.url],
    podOptions: POD_OPTIONS,
    store: storeOfInstance,
  })
  cleanups.push(() => created.close())
  return created
}

function store(): RedisProgressStore {
  const created = new RedisProgressStore(redis.url, STORE_OPTIONS)
  cleanups.push(() => created.close())
  return created
}

/** Instance B: serves `GET /?promptId=…` from the store, as an SSE endpoint of any instance. */
async function progressServer(storeOfB: RedisProgressStore): Promise<TestServer> {
  const server = await startServer((req, res) => {
    const promptId = new URL(req.url ?? '/', 'http://b').searchParams.get('promptId') ?? ''
    toServerSentEvents(watchProgress$(storeOfB, promptId), res, { keepAliveMs: 60_000 })
  })
  cleanups.push(() => server.close())
  return server
}

async function follow(server: TestServer, promptId: string): Promise<UpdateReader> {
  const response = await fetch(`${server.url}?promptId=${promptId}`)
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  return new UpdateReader(response.body!)
}

/** Runs a job on a runner: its promptId once the pod took it, and its result. */
function runJob(runner: ComfyUIJobRunner, steps: number) {
  let took!: (promptId: string) => void
  const promptId = new Promise<string>((resolve) => (took = resolve))
  const result: Promise<ComfyUIJobResult> = lastValueFrom(
    runner.run$(txt2imgWith(steps), { progressThrottleMs: 0 }).pipe(
      tap((event) => took(event.promptId)),
      filter((event) => event.type === 'completed'),
      map((event) => event.result),
    ),
  )
  return { promptId, result }
}

function diagnostic(
  of: RedisProgressStore,
  type: ProgressStoreDiagnostic['type'],
): Promise<ProgressStoreDiagnostic> {
  return firstValueFrom(of.diagnostics$.pipe(filter((d) => d.type === type)))
}

describe('several instances sharing a RedisProgressStore', () => {
  it('serves the progress of a job run by instance A from instance B, to the end', async () => {
    const runnerA = runner(store())
    const server = await progressServer(store())
    const sampler = gated.gate(3)

    const job = runJob(runnerA, 6)
    const promptId = await job.promptId
    await sampler.reached
    const reader = await follow(server, promptId)
    const first = await reader.until(() => true)
    sampler.open()
    const updates = await reader.rest()
    const result = await job.result

    // The latest state at once: the sampler had reported 2 of 6 steps.
    expect(first).toMatchObject({ promptId, status: 'processing' })
    expect(first.progress).toBeGreaterThan(0)
    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(updates.at(-1)?.images).toEqual([
      { filename: result.images[0]!.filename, subfolder: '', type: 'output' },
    ])
    expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    expect(updates.filter((update) => update.progress > first.progress).length).toBeGreaterThan(1)
  })

  it('keeps serving the job when Redis restarts mid-job, and the stores reconnect', async () => {
    const storeOfA = store()
    const storeOfB = store()
    const runnerA = runner(storeOfA)
    const server = await progressServer(storeOfB)
    const beforeRestart = gated.gate(3)
    const afterRestart = gated.gate(6)

    const job = runJob(runnerA, 8)
    const promptId = await job.promptId
    await beforeRestart.reached
    const reader = await follow(server, promptId)
    await reader.until((update) => update.progress > 0)

    await redis.kill()
    const failedWrite = diagnostic(storeOfA, 'write_failed')
    beforeRestart.open()
    // Steps 3 to 5 are reported while Redis is down: the job goes on, their updates wait.
    await afterRestart.reached
    expect(await failedWrite).toMatchObject({ type: 'write_failed', promptId, kept: true })

    await redis.start()
    afterRestart.open()
    const result = await job.result
    const updates = await reader.rest()

    expect(result.status).toBe('completed')
    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    expect(await storeOfB.latest(promptId)).toMatchObject({ status: 'completed' })
  })

  it('completes jobs while Redis is down, dropping their updates with diagnostics', async () => {
    const storeOfA = new RedisProgressStore(redis.url, {
      ...STORE_OPTIONS,
      maxPendingWrites: 1,
      // Its close waits that long for Redis, which stays down.
      readyTimeoutMs: 100,
    })
    cleanups.push(() => storeOfA.close())
    const runnerA = runner(storeOfA)
    const diagnostics: ProgressStoreDiagnostic[] = []
    storeOfA.diagnostics$.subscribe((d) => diagnostics.push(d))
    // Connected once (a store that never was waits silently for its first connection).
    await storeOfA.latest(crypto.randomUUID())
    await redis.kill()

    const results = await Promise.all([
      runnerA.submit(txt2imgWith(3), { progressThrottleMs: 0 }),
      runnerA.submit(txt2imgWith(3), { progressThrottleMs: 0 }),
    ])

    expect(results.map((result) => result.status)).toEqual(['completed', 'completed'])
    const types = new Set(diagnostics.map((d) => d.type))
    expect(types).toContain('write_failed')
    // One write may wait for Redis (maxPendingWrites): the others were dropped, not buffered.
    expect(types).toContain('update_dropped')
    expect(diagnostics.filter((d) => d.type === 'write_failed').every((d) => d.kept)).toBe(true)
  })
})
