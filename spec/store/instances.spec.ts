import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
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
  disconnected,
  isMonotonic,
  startGatedSimulator,
  txt2imgWith,
  UpdateReader,
  type GatedSimulator,
} from './storeTestKit.js'

// Several backend instances sharing a real redis-server (started here on a free port): the job
// runs on instance A, the browser's progress stream is served by instance B from the store. The
// simulator's sampler waits at gates, so that "mid-job" never depends on timing.

const root = fileURLToPath(new URL('../../', import.meta.url))

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
const children: ChildProcess[] = []

beforeEach(async () => {
  // One after the other, each closed after the test once it is up: a server that could not start
  // fails the test with that reason alone, and leaves nothing running.
  redis = closedAfterTest(await startRedisServer())
  gated = closedAfterTest(await startGatedSimulator())
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Closes `resource` after the test, after what was opened later. */
function closedAfterTest<T extends { close(): unknown }>(resource: T): T {
  cleanups.push(() => resource.close())
  return resource
}

function store(): RedisProgressStore {
  const created = new RedisProgressStore(redis.url, STORE_OPTIONS)
  cleanups.push(() => created.close())
  return created
}

function recover(instanceId: string, storeOfInstance: RedisProgressStore) {
  return ComfyUIJobRunner.recover({
    pods: [gated.simulator.url],
    podOptions: POD_OPTIONS,
    store: storeOfInstance,
    instanceId,
    trackOptions: { progressThrottleMs: 0 },
  }).then((runner) => {
    cleanups.push(() => runner.close())
    return runner
  })
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

/**
 * Instance A in a child process (spec/store/instance.ts); resolves with what it printed. Node
 * runs it with tsx's loader, in one process: SIGKILL kills the instance itself (the tsx CLI
 * would run it in a grandchild that outlives a SIGKILL).
 */
async function instanceProcess(instanceId: string, steps: number) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'spec/store/instance.ts',
      gated.simulator.url,
      redis.url,
      instanceId,
      String(steps),
    ],
    // Its stdin is its lifeline: it exits when this process goes, whatever happens to it.
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const printed = await new Promise<{ promptId: string; clientId: string }>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const line = /^(\{.*\})\n/m.exec(stdout)
      if (line !== null) resolve(JSON.parse(line[1]!) as { promptId: string; clientId: string })
    })
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}: ${stderr}`)))
  })
  return { child, ...printed }
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
    const runnerA = await recover('a', store())
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

  it('completes the job for the SSE client when instance A is killed mid-job and restarted', async () => {
    const server = await progressServer(store())
    const sampler = gated.gate(4)
    const a = await instanceProcess('a', 8)
    const reader = await follow(server, a.promptId)
    await sampler.reached
    const beforeKill = await reader.until((update) => update.progress > 0)

    a.child.kill('SIGKILL')
    await once(a.child, 'exit')
    // Restarted once the pod saw A's socket go, as a restarted process would be (see
    // `disconnected`).
    await disconnected(gated.simulator, a.clientId)
    expect(gated.simulator.runningPromptId).toBe(a.promptId)
    // A' starts where A was: same instanceId, same store.
    const storeOfRestarted = store()
    const restarted = await recover('a', storeOfRestarted)
    expect(restarted.pods[0]!.clientId).toBe(a.clientId)
    expect(restarted.recovered.map((job) => job.promptId)).toEqual([a.promptId])
    expect(restarted.pods[0]!.inFlight).toBe(1)
    sampler.open()

    const updates = await reader.rest()
    const result = await restarted.recovered[0]!.result
    expect(updates.at(-1)).toMatchObject({ promptId: a.promptId, status: 'completed' })
    expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    // Progress published by A' after the restart reached the client too.
    expect(updates.some((u) => u.status === 'processing' && u.progress > beforeKill.progress)).toBe(
      true,
    )
    // A' re-registered under A's clientId: the pod's socket messages reached it.
    expect(result.method).toBe('websocket')
    expect(result.images).toHaveLength(1)
    // The job ended: forgotten (the writes under way are done once its store is closed).
    await restarted.close()
    await storeOfRestarted.close()
    expect((await store().instanceState('a')).jobs).toEqual([])
  })

  it('keeps serving the job when Redis restarts mid-job, and the stores reconnect', async () => {
    const storeOfA = store()
    const storeOfB = store()
    const runnerA = await recover('a', storeOfA)
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
    const runnerA = await recover('a', storeOfA)
    const diagnostics: ProgressStoreDiagnostic[] = []
    storeOfA.diagnostics$.subscribe((d) => diagnostics.push(d))
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
