import { filter, firstValueFrom, lastValueFrom, map, tap } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  type ComfyPodOptions,
  type ComfyUIJobResult,
} from '../../src/index.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import type { ComfyUIJobRunnerOptions } from '../../src/runner/ComfyUIJobRunnerOptions.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import type { ProgressStore } from '../../src/store/ProgressStore.js'
import {
  disconnected,
  startGatedSimulator,
  txt2imgWith,
  type GatedSimulator,
} from './storeTestKit.js'

// The runner with a store, in one process (an InMemoryProgressStore stands for Redis here; the
// instances spec runs them as separate instances on a real Redis).

const POD_OPTIONS: ComfyPodOptions = {
  idleCloseMs: 20,
  connectTimeoutMs: 1_000,
  reconnectDelayMs: 10,
  maxReconnectAttempts: 1,
  requestTimeoutMs: 2_000,
}

let gated: GatedSimulator
const cleanups: (() => unknown)[] = []

beforeEach(async () => {
  gated = await startGatedSimulator()
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await gated.close()
})

function options(store: ProgressStore): ComfyUIJobRunnerOptions {
  return { pods: [gated.simulator.url], podOptions: POD_OPTIONS, store, instanceId: 'a' }
}

function runner(store: ProgressStore): ComfyUIJobRunner {
  const created = new ComfyUIJobRunner(options(store))
  cleanups.push(() => created.close())
  return created
}

async function recover(store: ProgressStore): Promise<ComfyUIJobRunner> {
  const created = await ComfyUIJobRunner.recover({
    pods: [gated.simulator.url],
    podOptions: POD_OPTIONS,
    store,
    instanceId: 'a',
    trackOptions: { progressThrottleMs: 0 },
  })
  cleanups.push(() => created.close())
  return created
}

/** Runs a job: its promptId once the pod took it, and its result (or error). */
function runJob(on: ComfyUIJobRunner, steps = 4) {
  let took!: (promptId: string) => void
  const promptId = new Promise<string>((resolve) => (took = resolve))
  const result: Promise<ComfyUIJobResult> = lastValueFrom(
    on.run$(txt2imgWith(steps), { progressThrottleMs: 0 }).pipe(
      tap((event) => took(event.promptId)),
      filter((event) => event.type === 'completed'),
      map((event) => event.result),
    ),
  )
  result.catch(() => {})
  return { promptId, result }
}

describe('ComfyUIJobRunner with a store', () => {
  it('records a job, publishes its progress, and forgets it at its end', async () => {
    const store = new InMemoryProgressStore()
    const target = runner(store)
    const sampler = gated.gate(2)
    const job = runJob(target)
    const promptId = await job.promptId

    await sampler.reached
    expect((await store.instanceState('a')).jobs).toEqual([
      { promptId, podUrl: target.pods[0]!.url, clientId: target.pods[0]!.clientId },
    ])
    expect(await store.instanceState('a')).toMatchObject({
      clientIds: { [target.pods[0]!.url]: target.pods[0]!.clientId },
    })
    sampler.open()
    await job.result

    expect(await store.latest(promptId)).toMatchObject({ status: 'completed', progress: 100 })
    expect((await store.instanceState('a')).jobs).toEqual([])
  })

  it('records a job before its POST /prompt is answered, under the id it asks the pod for', async () => {
    const store = new InMemoryProgressStore()
    let answer!: () => void
    const held = new Promise<void>((resolve) => (answer = resolve))
    let posted!: () => void
    const posting = new Promise<void>((resolve) => (posted = resolve))
    const holdPosts: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && String(input).endsWith('/prompt')) {
        posted()
        await held
      }
      return fetch(input, init)
    }
    const target = new ComfyUIJobRunner({
      ...options(store),
      podOptions: { ...POD_OPTIONS, fetch: holdPosts },
    })
    cleanups.push(() => target.close())
    const job = runJob(target, 1)
    await posting

    const { jobs } = await store.instanceState('a')
    expect(jobs).toHaveLength(1)
    answer()
    expect(await job.promptId).toBe(jobs[0]!.promptId)
    await job.result
    expect((await store.instanceState('a')).jobs).toEqual([])
  })

  it('publishes a failure as the final update, and forgets the job', async () => {
    const store = new InMemoryProgressStore()
    const target = runner(store)
    gated.simulator.failNode({ classType: 'VAEDecode', message: 'CUDA out of memory' })
    const job = runJob(target)
    const promptId = await job.promptId

    await expect(job.result).rejects.toThrow('CUDA out of memory')
    expect(await store.latest(promptId)).toMatchObject({
      status: 'failed',
      errorName: 'ComfyExecutionError',
      message: 'A step of the workflow failed on the server.',
    })
    expect((await store.instanceState('a')).jobs).toEqual([])
  })

  it('keeps the jobs its closing ends, without telling their watchers they failed', async () => {
    const store = new InMemoryProgressStore()
    const target = runner(store)
    const sampler = gated.gate(2)
    const job = runJob(target)
    const promptId = await job.promptId
    await sampler.reached

    target.close()

    await expect(job.result).rejects.toMatchObject({ reason: 'pod_closed' })
    expect(await store.latest(promptId)).toMatchObject({ status: 'processing' })
    expect((await store.instanceState('a')).jobs.map((j) => j.promptId)).toEqual([promptId])
  })

  it("resumes the previous run's jobs under the same clientIds, to their end", async () => {
    const store = new InMemoryProgressStore()
    const before = runner(store)
    const sampler = gated.gate(3)
    const job = runJob(before, 6)
    const promptId = await job.promptId
    await sampler.reached
    const clientId = before.pods[0]!.clientId
    before.close()
    await disconnected(gated.simulator, clientId)

    const after = await recover(store)
    expect(after.pods[0]).toMatchObject({ clientId, inFlight: 1 })
    expect(after.recovered.map(({ promptId: id, podUrl }) => ({ id, podUrl }))).toEqual([
      { id: promptId, podUrl: gated.simulator.url + '/' },
    ])
    const completed = firstValueFrom(
      store.watch$(promptId).pipe(filter((update) => update.status === 'completed')),
    )
    sampler.open()
    const result = await after.recovered[0]!.result

    expect(result).toMatchObject({ promptId, status: 'completed', method: 'websocket' })
    expect(await completed).toMatchObject({ promptId, progress: 100 })
    expect((await store.instanceState('a')).jobs).toEqual([])
    expect(after.pods[0]!.inFlight).toBe(0)
  })

  it("fails a recovered job whose pod is not one of the runner's any more, and forgets it", async () => {
    const store = new InMemoryProgressStore()
    await store.addJob('a', { promptId: 'p1', podUrl: 'http://gone:8188/', clientId: 'c1' })

    const target = await recover(store)

    const error = await target.recovered[0]!.result.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ComfyConnectionError)
    expect(error).toMatchObject({ reason: 'pod_removed', url: 'http://gone:8188/' })
    expect(await store.latest('p1')).toMatchObject({ status: 'failed', promptId: 'p1' })
    expect((await store.instanceState('a')).jobs).toEqual([])
  })

  it('keeps a recovered job when the runner is closed before its end', async () => {
    const store = new InMemoryProgressStore()
    const sampler = gated.gate(2)
    const before = runner(store)
    const promptId = await runJob(before).promptId
    await sampler.reached
    before.close()
    await disconnected(gated.simulator, before.pods[0]!.clientId)

    const after = await recover(store)
    after.close()

    await expect(after.recovered[0]!.result).rejects.toMatchObject({ reason: 'runner_closed' })
    expect((await store.instanceState('a')).jobs.map((j) => j.promptId)).toEqual([promptId])
    expect(await store.latest(promptId)).toMatchObject({ status: 'processing' })
  })

  it('throws a TypeError for an instanceId without a store, or an invalid one', async () => {
    const store = new InMemoryProgressStore()
    expect(() => new ComfyUIJobRunner({ pods: [gated.simulator.url], instanceId: 'a' })).toThrow(
      /^store \(for instanceId\) must be a ProgressStore, received undefined$/,
    )
    expect(
      () => new ComfyUIJobRunner({ pods: [gated.simulator.url], store, instanceId: '' }),
    ).toThrow(new TypeError('instanceId must be a non-empty string, received ""'))
    await expect(
      ComfyUIJobRunner.recover({ pods: [gated.simulator.url], instanceId: 'a' } as never),
    ).rejects.toThrow(/^store must be a ProgressStore/)
  })
})
