import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startStudio, type Studio, type StudioOptions } from '../../examples/studio/startStudio.js'
import { startRedisServer, type RedisServer } from './redisServer.js'
import {
  isMonotonic,
  registered,
  startGatedSimulator,
  UpdateReader,
  type GatedSimulator,
} from './storeTestKit.js'

// The studio example as two instances sharing a real redis-server, over HTTP (the page itself is
// tested in Chromium by spec/studio): a job generated on one instance is followed on the other.

let redis: RedisServer
let gated: GatedSimulator
const opened: { close(): Promise<void> }[] = []

beforeEach(async () => {
  // One after the other, each closed after the test once it is up: a server that could not start
  // fails the test with that reason alone, and leaves nothing running.
  redis = closedAfterTest(await startRedisServer())
  gated = closedAfterTest(await startGatedSimulator())
})

afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close()
})

/** Closes `resource` after the test, after what was opened later. */
function closedAfterTest<T extends { close(): Promise<void> }>(resource: T): T {
  opened.push(resource)
  return resource
}

async function studio(instanceId: string): Promise<Studio> {
  const options: StudioOptions = {
    comfyuiUrl: gated.simulator.url,
    redisUrl: redis.url,
    instanceId,
    steps: 6,
    progressThrottleMs: 0,
  }
  return closedAfterTest(await startStudio(options))
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

describe('studio example with REDIS_URL', () => {
  it('streams a job generated on one instance, and its image, from the other', async () => {
    const [one, two] = [await studio('one'), await studio('two')]
    const promptId = await generate(one)

    const updates = await (await follow(two, promptId)).rest()

    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(updates.at(-1)?.images?.[0]?.url).toBe(`/api/image/comfyui/${promptId}/images/0`)
    const image = await fetch(new URL(`/api/image/comfyui/${promptId}/images/0`, two.url))
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/png')
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0)
  })

  it('resumes the job of an instance restarted mid-job, for the browser of another', async () => {
    const sampler = gated.gate(3)
    const one = await studio('one')
    const two = await studio('two')
    const promptId = await generate(one)
    const reader = await follow(two, promptId)
    await sampler.reached
    const before = await reader.until((update) => update.progress > 0)

    await one.close()
    // Restarted once its old socket is gone, as a restarted process would be.
    await registered(gated.simulator, 1)
    const restarted = await studio('one')
    sampler.open()
    const updates = await reader.rest()

    expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
    expect(updates.some((u) => u.status === 'processing' && u.progress > before.progress)).toBe(
      true,
    )
    expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    const image = await fetch(new URL(`/api/image/comfyui/${promptId}/images/0`, restarted.url))
    expect(image.status).toBe(200)
  })
})
