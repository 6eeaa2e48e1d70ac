import { randomUUID } from 'node:crypto'
import type { Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ComfyUIJobResult } from '../../src/job/ComfyUIJobResult.js'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import { AdoptedPods } from '../../src/queue/AdoptedPods.js'
import { processQueuedJob } from '../../src/queue/processQueuedJob.js'
import type { QueuedJobData } from '../../src/queue/QueuedJobData.js'
import { resolveQueueOptions } from '../../src/queue/QueueOptions.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import { txt2imgWith } from '../store/storeTestKit.js'

// The processor with a BullMQ job stood in for (its lease is what is tested), against the
// simulator over real sockets.

let simulator: ComfySimulator
let pod: ComfyPod
let runner: ComfyUIJobRunner
let posted: number

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 5, previews: false })
  pod = new ComfyPod(simulator.url)
  runner = new ComfyUIJobRunner({ pods: [pod] })
  posted = 0
  simulator.on('request', (method, path) => {
    if (method === 'POST' && path === '/prompt') posted++
  })
})

afterEach(async () => {
  runner.close()
  pod.close()
  await simulator.close()
})

/** A job a worker took, whose lease `extendLock` renews (1) or finds taken (0). */
function jobWithLease(lease: 0 | 1) {
  const job = {
    id: 'job-1',
    data: { workflow: txt2imgWith(3), options: {}, promptId: randomUUID() } as QueuedJobData,
    opts: { attempts: 1 },
    attemptsMade: 0,
    extendLock: () => Promise.resolve(lease),
    updateData(data: QueuedJobData) {
      job.data = data
      return Promise.resolve()
    },
  }
  return job
}

function process(job: ReturnType<typeof jobWithLease>, store: InMemoryProgressStore) {
  const redis = { exists: () => Promise.resolve(0) } as unknown as Redis
  const options = resolveQueueOptions({ connection: 'redis://127.0.0.1:6379' })
  const run = processQueuedJob({
    runner,
    adopted: new AdoptedPods({
      pods: [{ url: simulator.url, pod }],
      podOptions: {},
      redis,
      names: options,
      leaseMs: 10_000,
    }),
    store,
    redis,
    options,
    leaseMs: 10_000,
  })
  return run(job as unknown as Job<QueuedJobData, ComfyUIJobResult>, 'token')
}

describe('processQueuedJob', () => {
  it('sends the prompt, its target recorded first, while it holds the lease', async () => {
    const job = jobWithLease(1)
    const store = new InMemoryProgressStore()

    const result = await process(job, store)

    expect(result).toMatchObject({ promptId: job.data.promptId, status: 'completed' })
    expect(posted).toBe(1)
    expect(job.data.target).toMatchObject({
      podUrl: pod.url,
      clientId: pod.clientId,
      submitted: true,
    })
    expect(await store.latest(job.data.promptId)).toMatchObject({ status: 'completed' })
  })

  it('sends nothing and ends nothing when another worker took the lease', async () => {
    const job = jobWithLease(0)
    const store = new InMemoryProgressStore()

    const error = await process(job, store).catch((caught: unknown) => caught)

    expect(error).toMatchObject({ name: 'LeaseLostError' })
    expect(posted).toBe(0)
    expect(job.data.target).toBeUndefined()
    expect(job.data.error).toBeUndefined()
    expect(await store.latest(job.data.promptId)).toBeUndefined()
  })
})
