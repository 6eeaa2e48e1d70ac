import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startStudio, type Studio, type StudioOptions } from '../../examples/studio/startStudio.js'
import { ComfyJobQueue } from '../../src/queue/index.js'
import type { ComfySimulator } from '../../src/simulator/index.js'
import { startRedisServer, type RedisServer } from '../store/redisServer.js'
import {
  isMonotonic,
  startGatedSimulator,
  UpdateReader,
  type GatedSimulator,
} from '../store/storeTestKit.js'

// The studio with REDIS_URL, over HTTP (the page itself is tested in Chromium by studio.spec.ts):
// jobs go through the BullMQ queue, run by workers in processes of their own
// (examples/studio/worker.ts, default options), and a job survives the death of its worker.

const root = fileURLToPath(new URL('../../', import.meta.url))

let redis: RedisServer
let gated: GatedSimulator
const opened: { close(): Promise<void> }[] = []
const workers: ChildProcess[] = []

beforeEach(async () => {
  redis = closedAfterTest(await startRedisServer())
  gated = closedAfterTest(await startGatedSimulator())
})

afterEach(async () => {
  for (const worker of workers.splice(0)) {
    if (worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGKILL')
      await once(worker, 'exit')
    }
  }
  for (const resource of opened.splice(0).reverse()) await resource.close()
})

/** Closes `resource` after the test, after what was opened later. */
function closedAfterTest<T extends { close(): Promise<void> }>(resource: T): T {
  opened.push(resource)
  return resource
}

async function studio(options: Partial<StudioOptions> = {}): Promise<Studio> {
  return closedAfterTest(
    await startStudio({
      comfyuiUrl: gated.simulator.url,
      redisUrl: redis.url,
      steps: 6,
      progressThrottleMs: 0,
      ...options,
    }),
  )
}

/** The studio's worker script in a process of its own (SIGKILL kills the worker itself). */
async function workerProcess(name: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/studio/worker.ts', redis.url, gated.simulator.url, name],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  workers.push(child)
  let output = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${output}`)))
  })
  return child
}

async function generate(on: Studio): Promise<string> {
  const answer = await fetch(new URL('/api/image/generate', on.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a red fox' }),
  })
  expect(answer.status).toBe(200)
  return ((await answer.json()) as { promptId: string }).promptId
}

async function follow(on: Studio, promptId: string): Promise<UpdateReader> {
  const stream = await fetch(new URL(`/api/image/comfyui/${promptId}/progress`, on.url))
  expect(stream.status).toBe(200)
  return new UpdateReader(stream.body!)
}

/** Resolves once `clientId` has a socket on the simulator again. */
function connected(simulator: ComfySimulator, clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!simulator.clientIds.includes(clientId)) return
      simulator.off('connection', check)
      resolve()
    }
    simulator.on('connection', check)
    check()
  })
}

describe('studio example with REDIS_URL', () => {
  it('streams a job generated on one instance, and its image, from the other', async () => {
    const [one, two] = [await studio(), await studio({ worker: false })]
    const promptId = await generate(two)

    const updates = await (await follow(one, promptId)).rest()

    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(updates.at(-1)?.images?.[0]?.url).toBe(`/api/image/comfyui/${promptId}/images/0`)
    const image = await fetch(new URL(`/api/image/comfyui/${promptId}/images/0`, two.url))
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/png')
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0)
  })

  it('keeps the page going when the worker running its job is killed: another takes it over', async () => {
    const page = await studio({ worker: false })
    const named = new Map([
      ['worker-1', await workerProcess('worker-1')],
      ['worker-2', await workerProcess('worker-2')],
    ])
    const sampler = gated.gate(3)
    const promptId = await generate(page)
    const reader = await follow(page, promptId)
    await sampler.reached
    const before = await reader.until((update) => update.progress > 0)

    const queue = new Queue('comfyui-rx', { connection: { url: redis.url } })
    closedAfterTest(queue)
    const job = await queue.getJob(promptId)
    const runner = job!.processedBy!
    const clientId = (job!.data as { target: { clientId: string } }).target.clientId
    const killed = named.get(runner)!
    killed.kill('SIGKILL')
    await once(killed, 'exit')
    // The other worker takes the job over once its lease expired (default options: within
    // 10 s + 5 s), on the pod, under the dead worker's clientId: live progress again.
    await connected(gated.simulator, clientId)
    sampler.open()
    const updates = await reader.rest()

    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(updates.some((u) => u.status === 'processing' && u.progress > before.progress)).toBe(
      true,
    )
    expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    // Generated once: followed on its pod, not sent again.
    expect(gated.simulator.historyPromptIds).toEqual([promptId])
    const result = await closedAfterTest(new ComfyJobQueue({ connection: redis.url })).result(
      promptId,
    )
    expect(result).toMatchObject({ promptId, method: 'websocket' })
    expect((await queue.getJob(promptId))!.processedBy).not.toBe(runner)
  }, 60_000)
})
