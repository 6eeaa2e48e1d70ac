import { once } from 'node:events'
import { Redis } from 'ioredis'
import { firstValueFrom } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyCancelledError } from '../../src/errors/ComfyCancelledError.js'
import { ComfyError } from '../../src/errors/ComfyError.js'
import { ComfyExecutionError } from '../../src/errors/ComfyExecutionError.js'
import { ComfyQueueError } from '../../src/errors/ComfyQueueError.js'
import { ComfyValidationError } from '../../src/errors/ComfyValidationError.js'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import { ComfyJobQueue } from '../../src/queue/index.js'
import { RedisProgressStore } from '../../src/store/RedisProgressStore.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { startRedisServer, type RedisServer } from '../store/redisServer.js'
import { isMonotonic, txt2imgWith } from '../store/storeTestKit.js'
import { bullJob, eventsOf, Opened } from './queueTestKit.js'

// The queue against a real redis-server and the simulator over real sockets, with a worker in
// this process and the library's default options (only the simulator's step time is short).

let redis: RedisServer
let simulator: ComfySimulator
const opened = new Opened()

beforeEach(async () => {
  redis = opened.add(await startRedisServer())
  simulator = opened.add(await startComfySimulator({ stepDurationMs: 5, previews: false }))
})

afterEach(() => opened.closeAll())

const unknownNode = { '1': { class_type: 'NoSuchNode', inputs: {} } }

describe('ComfyJobQueue with a worker', () => {
  it('runs a job: its events from queued to completed, and its result, on any instance', async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const other = opened.queue(redis.url)

    const { jobId, promptId } = await queue.add(txt2imgWith(6), { progressThrottleMs: 0 })
    const [here, there] = await Promise.all([eventsOf(queue, jobId), eventsOf(other, jobId)])
    const result = await other.result(jobId)

    expect(jobId).toBe(promptId)
    for (const updates of [here, there]) {
      expect(updates.at(-1)).toMatchObject({ promptId, status: 'completed', progress: 100 })
      expect(isMonotonic(updates.map((update) => update.progress))).toBe(true)
    }
    expect(here.some((update) => update.status === 'processing')).toBe(true)
    expect(result).toMatchObject({ promptId, status: 'completed', method: 'websocket' })
    expect(result.images).toHaveLength(1)
    expect(simulator.historyPromptIds).toEqual([promptId])
    expect(await queue.latest(jobId)).toMatchObject({ status: 'completed' })
  })

  it('adds a jobId once: the second add gives the job already there', async () => {
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)

    const first = await queue.add(txt2imgWith(2), { jobId: 'order-42' })
    const second = await queue.add(txt2imgWith(2), { jobId: 'order-42' })
    await opened.worker(redis.url, [simulator.url])
    await queue.result('order-42')

    expect(second).toEqual(first)
    expect(first.promptId).toMatch(/^[0-9a-f-]{36}$/)
    expect(await bull.getJobCounts('completed', 'waiting', 'active')).toEqual({
      completed: 1,
      waiting: 0,
      active: 0,
    })
    expect(simulator.historyPromptIds).toEqual([first.promptId])
  })

  it('refuses an invalid workflow or option with a TypeError, queueing nothing', async () => {
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)

    await expect(queue.add({ nodes: [] } as never)).rejects.toThrow(/UI save format/)
    await expect(queue.add(txt2imgWith(2), { attempts: 0 })).rejects.toThrow(
      new TypeError('attempts must be an integer >= 1, received 0'),
    )
    await expect(queue.add(txt2imgWith(2), { jobId: 'a:b' })).rejects.toThrow(TypeError)
    await expect(queue.add(txt2imgWith(2), { timeoutMs: -1 })).rejects.toThrow(TypeError)
    await expect(queue.add(txt2imgWith(2), { promptId: 'not-a-uuid' })).rejects.toThrow(TypeError)
    expect(await bull.count()).toBe(0)
    expect(() => new ComfyJobQueue({ connection: 'http://user:secret@x' })).toThrow(
      new TypeError(
        'connection must be a redis:// URL, ioredis options or client, received "(not a redis:// URL)"',
      ),
    )
  })

  it('fails a job the pod refuses with its typed error, once: no retry', async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)

    const { jobId, promptId } = await queue.add(unknownNode, { attempts: 3 })
    const updates = await eventsOf(queue, jobId)
    const error = await queue.result(jobId).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ComfyValidationError)
    expect(error).toBeInstanceOf(ComfyError)
    expect(error).toMatchObject({ type: 'invalid_prompt', promptId })
    expect(updates.at(-1)).toMatchObject({
      promptId,
      status: 'failed',
      errorName: 'ComfyValidationError',
    })
    const job = await bullJob(bull, jobId)
    expect(await job.getState()).toBe('failed')
    expect(job.attemptsMade).toBe(1)
  })

  it("fails a job whose node raised with ComfyExecutionError, without retrying (the pod keeps the prompt's history)", async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)
    simulator.failNode({ classType: 'KSampler', afterSteps: 1 })

    const { jobId } = await queue.add(txt2imgWith(4))
    const error = await queue.result(jobId).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ComfyExecutionError)
    expect((await bullJob(bull, jobId)).attemptsMade).toBe(1)
  })

  it('sends a job again when its pod lost it (a restart), as a new attempt', async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)
    const started = once(simulator, 'promptStarted')

    const { jobId, promptId } = await queue.add(txt2imgWith(400), { backoffMs: 10 })
    await started
    await simulator.restart()
    const result = await queue.result(jobId)

    expect(result).toMatchObject({ promptId, status: 'completed' })
    expect((await bullJob(bull, jobId)).attemptsMade).toBe(2)
    // The restart wiped the pod's history: the prompt that completed is the second attempt's.
    expect(simulator.historyPromptIds).toEqual([promptId])
  })

  it('cancels a job no worker took yet: removed, its events and result end at once', async () => {
    const queue = opened.queue(redis.url)
    const bull = opened.bull(redis.url)
    const { jobId, promptId } = await queue.add(txt2imgWith(2))
    const events = eventsOf(queue, jobId)

    expect(await queue.cancel(jobId)).toBe(true)
    const error = await queue.result(jobId).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ComfyCancelledError)
    expect(error).toMatchObject({ phase: 'pending' })
    expect((await events).at(-1)).toMatchObject({
      promptId,
      status: 'failed',
      errorName: 'ComfyCancelledError',
    })
    expect(await bull.getJob(jobId)).toBeUndefined()
    // A worker started now has nothing to do.
    await opened.worker(redis.url, [simulator.url])
    expect(simulator.historyPromptIds).toEqual([])
    expect(await queue.cancel(jobId)).toBe(false)
  })

  it('cancels a running job from another instance: interrupted on its pod', async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const other = opened.queue(redis.url)
    const started = once(simulator, 'promptStarted')
    const finished = once(simulator, 'promptFinished')

    const { jobId, promptId } = await queue.add(txt2imgWith(400))
    await started
    expect(await other.cancel(jobId)).toBe(true)
    const error = await queue.result(jobId).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ComfyCancelledError)
    expect(error).toMatchObject({ phase: 'running' })
    expect(await finished).toEqual([promptId, 'interrupted'])
    expect(await queue.cancel(jobId)).toBe(false)
  })

  it('answers for an unknown job: no latest, ComfyQueueError not_found', async () => {
    const queue = opened.queue(redis.url)

    expect(await queue.latest('nope')).toBeUndefined()
    const error = await queue.result('nope').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ComfyQueueError)
    expect(error).toMatchObject({ reason: 'not_found', jobId: 'nope' })
    await expect(firstValueFrom(queue.events$('nope'))).rejects.toThrow(ComfyQueueError)
    expect(await queue.cancel('nope')).toBe(false)
  })

  it("caps the fleet's jobs in flight at the pods' slots (BullMQ's global concurrency)", async () => {
    const second = opened.add(await startComfySimulator({ stepDurationMs: 5 }))
    await opened.worker(redis.url, [simulator.url, second.url], { concurrencyPerPod: 3 })
    const bull = opened.bull(redis.url)

    expect(await bull.getGlobalConcurrency()).toBe(6)
  })

  it('follows a job the store forgot, from BullMQ: its events still end', async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const { jobId, promptId } = await queue.add(txt2imgWith(2))
    await queue.result(jobId)
    const raw = new Redis(redis.url)
    await raw.del(`comfyui-rx:progress:${promptId}`)
    await raw.quit()

    const updates = await eventsOf(queue, jobId)
    // Added again, under its id: it is the job that ended.
    expect(await queue.add(txt2imgWith(2), { jobId })).toEqual({ jobId, promptId })

    expect(updates).toEqual([
      expect.objectContaining({ promptId, status: 'completed', progress: 100 }),
    ])
    expect(await queue.latest(jobId)).toMatchObject({ status: 'completed' })
    expect(await queue.result(jobId)).toMatchObject({ promptId, status: 'completed' })
  })

  it("shares what its pods learn of the node classes' costs with the fleet, per pod", async () => {
    await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const { jobId } = await queue.add(txt2imgWith(4))
    await queue.result(jobId)
    const store = opened.add(new RedisProgressStore(redis.url))

    const costs = await store.loadCosts(`pod:${new ComfyPod(simulator.url).url}`)

    expect(costs['KSampler']).toMatchObject({ runs: expect.any(Number) })
  })

  it('drains on close: the job it runs ends first, with its result', async () => {
    const worker = await opened.worker(redis.url, [simulator.url])
    const queue = opened.queue(redis.url)
    const started = once(simulator, 'promptStarted')
    const { jobId } = await queue.add(txt2imgWith(40))
    await started

    await worker.close()

    expect(await queue.result(jobId)).toMatchObject({ status: 'completed' })
  })
})
