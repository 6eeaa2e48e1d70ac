import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import type { RecordedTarget } from '../../src/queue/QueuedJobData.js'
import { cancelledKey } from '../../src/queue/queueKeys.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { startRedisServer, type RedisServer } from '../store/redisServer.js'
import { disconnected, txt2imgWith } from '../store/storeTestKit.js'
import { bullJob, Opened } from './queueTestKit.js'

// What a worker does with a job another worker had sent (its target recorded in the job, that
// worker gone), in this process: the job is left in BullMQ as a dead worker leaves it, then a
// worker with default options takes it. spec/studio/studioQueue.spec.ts and
// spec/queue/chaos.spec.ts do it with real processes killed by SIGKILL.

const QUEUE = { prefix: 'bull', name: 'comfyui-rx' }

let redis: RedisServer
let simulator: ComfySimulator
let posted: string[]
const opened = new Opened()

beforeEach(async () => {
  redis = opened.add(await startRedisServer())
  simulator = opened.add(await startComfySimulator({ stepDurationMs: 5, previews: false }))
  posted = []
  simulator.on('request', (method, path) => {
    if (method === 'POST' && path === '/prompt') posted.push(path)
  })
})

afterEach(() => opened.closeAll())

/** A job queued with no worker, then given the target a worker recorded before dying. */
async function leftBehind(target: Omit<RecordedTarget, 'podUrl' | 'promptId'>) {
  const queue = opened.queue(redis.url)
  const bull = opened.bull(redis.url)
  const { jobId, promptId } = await queue.add(txt2imgWith(6), { backoffMs: 10 })
  const job = await bullJob(bull, jobId)
  const podUrl = new ComfyPod(simulator.url).url
  await job.updateData({ ...job.data, target: { ...target, promptId, podUrl } })
  return { queue, bull, jobId, promptId }
}

describe('a worker taking over a job', () => {
  it('follows the prompt already on its pod, live under the clientId it was queued with', async () => {
    const clientId = randomUUID()
    const { queue, bull, jobId, promptId } = await leftBehind({
      clientId,
      attempt: 0,
      submitted: true,
    })
    // The dead worker's pod had queued it.
    const dead = new ComfyPod(simulator.url, { clientId })
    simulator.pause()
    await dead.queueWorkflow(txt2imgWith(6), { promptId })
    dead.close()
    posted.length = 0

    const connections: string[] = []
    simulator.on('connection', (sid) => connections.push(sid))
    await opened.worker(redis.url, [simulator.url])
    simulator.resume()
    const result = await queue.result(jobId)

    // Its own pod's socket, and one under the dead worker's clientId.
    expect(connections).toHaveLength(2)
    expect(connections).toContain(clientId)
    expect(result).toMatchObject({ promptId, status: 'completed', method: 'websocket' })
    expect(posted).toEqual([])
    expect(simulator.historyPromptIds).toEqual([promptId])
    expect((await bullJob(bull, jobId)).attemptsMade).toBe(1)
    // The pod adopted for it is closed once its prompt ended: nothing of the job remains.
    await disconnected(simulator, clientId)
  })

  it('sends the prompt its pod never got (the worker died before the pod answered)', async () => {
    const { queue, bull, jobId, promptId } = await leftBehind({
      clientId: randomUUID(),
      attempt: 0,
      submitted: false,
    })

    await opened.worker(redis.url, [simulator.url])
    const result = await queue.result(jobId)

    expect(result).toMatchObject({ promptId, status: 'completed' })
    expect(posted).toHaveLength(1)
    expect(simulator.historyPromptIds).toEqual([promptId])
    const job = await bullJob(bull, jobId)
    expect(job.attemptsMade).toBe(1)
    expect(job.data.target).toMatchObject({ promptId, attempt: 0, submitted: true })
  })

  it('fails an attempt whose pod lost the prompt it had taken, and sends it on the next', async () => {
    const { queue, bull, jobId, promptId } = await leftBehind({
      clientId: randomUUID(),
      attempt: 0,
      submitted: true,
    })

    await opened.worker(redis.url, [simulator.url])
    const result = await queue.result(jobId)

    expect(result).toMatchObject({ promptId, status: 'completed' })
    expect(posted).toHaveLength(1)
    const job = await bullJob(bull, jobId)
    expect(job.attemptsMade).toBe(2)
    expect(job.data.target).toMatchObject({ attempt: 1, submitted: true })
  })

  it('cancels, on its pod, a prompt whose job was cancelled while its worker was dead', async () => {
    const clientId = randomUUID()
    const { queue, jobId, promptId } = await leftBehind({ clientId, attempt: 0, submitted: true })
    const dead = new ComfyPod(simulator.url, { clientId })
    simulator.pause()
    await dead.queueWorkflow(txt2imgWith(6), { promptId })
    dead.close()
    // `queue.cancel` marks the job before anything else; a job it could not remove (its dead
    // worker's lease had not expired) is left to the worker that takes it.
    const raw = new Redis(redis.url)
    await raw.set(cancelledKey(QUEUE, jobId), JSON.stringify({ promptId }))
    await raw.quit()

    await opened.worker(redis.url, [simulator.url])
    const error = await queue.result(jobId).catch((caught: unknown) => caught)

    expect(error).toMatchObject({ name: 'ComfyCancelledError', phase: 'pending' })
    expect(simulator.pendingPromptIds).toEqual([])
    simulator.resume()
  })
})
