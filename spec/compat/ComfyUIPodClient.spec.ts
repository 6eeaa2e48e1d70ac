import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyExecutionError,
  ComfyPromptLostError,
  ComfyValidationError,
} from '../../src/index.js'
import type { AnalyticsEvent } from '../../src/analytics/AnalyticsEvent.js'
import {
  ComfyUIPodClient,
  type ComfyUIPodClientOptions,
} from '../../src/compat/ComfyUIPodClient.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { failure, tinyImage, txt2imgWith } from './workflows.js'

let simulator: ComfySimulator
const clients: ComfyUIPodClient[] = []
const FAST = { progressThrottleMs: 0, pollIntervalMs: 20, timeoutMs: 15_000 }

function client(options: ComfyUIPodClientOptions = {}): ComfyUIPodClient {
  const created = new ComfyUIPodClient(simulator.url, {
    idleCloseMs: 5_000,
    reconnectDelayMs: 10,
    maxReconnectAttempts: 1,
    maxReconnectDelayMs: 60_000,
    healthCheckTimeoutMs: 2_000,
    jobOptions: FAST,
    ...options,
  })
  clients.push(created)
  return created
}

/** Counts the simulator's events of one kind from now on. */
function count(event: 'promptQueued' | 'connection'): { value: number } {
  const counter = { value: 0 }
  simulator.on(event, () => counter.value++)
  return counter
}

function requests(path: string): { value: number } {
  const counter = { value: 0 }
  simulator.on('request', (_method, requested) => {
    if (requested === path) counter.value++
  })
  return counter
}

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
})

afterEach(async () => {
  for (const created of clients.splice(0)) created.close()
  await simulator.close()
})

describe('ComfyUIPodClient.queueWorkflow and getJobStatus', () => {
  it('queues a workflow and reports it queued, then completed with viewable images', async () => {
    simulator.pause()
    const target = client()
    const promptId = await target.queueWorkflow(tinyImage())
    expect(simulator.pendingPromptIds).toEqual([promptId])
    expect(await target.getJobStatus(promptId)).toEqual({
      promptId,
      status: 'queued',
      images: [],
      outputs: {},
      durationMs: 0,
      method: 'rest_polling',
      progressUpdates: 0,
    })
    const finished = once(simulator, 'promptFinished')
    simulator.resume()
    await finished
    const status = await target.getJobStatus(promptId)
    expect(status).toMatchObject({ promptId, status: 'completed', method: 'rest_polling' })
    expect(status.images).toHaveLength(1)
    expect(Object.keys(status.outputs)).toEqual(['2'])
    expect(status.durationMs).toBeGreaterThanOrEqual(0)
    const image = await fetch(status.images[0]!.url)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/png')
  })

  it('reports a running prompt as processing', async () => {
    const target = client()
    const started = once(simulator, 'promptStarted')
    const promptId = await target.queueWorkflow(txt2imgWith(5))
    await started
    simulator.hangWorker()
    expect((await target.getJobStatus(promptId)).status).toBe('processing')
  })

  it('reports a prompt whose node raised as failed, without images', async () => {
    simulator.failNode({ classType: 'SaveImage' })
    const target = client()
    const finished = once(simulator, 'promptFinished')
    const promptId = await target.queueWorkflow(tinyImage())
    expect(await finished).toEqual([promptId, 'error'])
    expect(await target.getJobStatus(promptId)).toMatchObject({ status: 'failed', images: [] })
  })

  it('rejects with ComfyPromptLostError for a prompt the pod does not know', async () => {
    expect(await failure(client().getJobStatus('no-such-prompt'))).toBeInstanceOf(
      ComfyPromptLostError,
    )
  })

  it('rejects an invalid workflow with ComfyValidationError', async () => {
    const broken = { '1': { class_type: 'NoSuchNode', inputs: {} } }
    expect(await failure(client().queueWorkflow(broken))).toBeInstanceOf(ComfyValidationError)
  })
})

describe('ComfyUIPodClient.executeWorkflow', () => {
  it('runs over the socket with progress from 0 to 100 and returns the images', async () => {
    const progress: number[] = []
    const result = await client().executeWorkflow(txt2imgWith(6), (value) => progress.push(value))
    expect(result).toMatchObject({ status: 'completed', method: 'websocket' })
    expect(result.images).toHaveLength(1)
    expect(progress.length).toBeGreaterThan(2)
    expect(
      progress.every((value, i) => value >= 0 && value <= 100 && value >= (progress[i - 1] ?? 0)),
    ).toBe(true)
    expect(progress.at(-1)).toBe(100)
    expect(result.progressUpdates).toBe(progress.length)
  })

  it('falls back to REST polling when the socket is refused, and queues the prompt once', async () => {
    simulator.refuseSockets(true)
    const queued = count('promptQueued')
    const result = await client().executeWorkflow(txt2imgWith(2))
    expect(result).toMatchObject({ status: 'completed', method: 'rest_polling' })
    expect(queued.value).toBe(1)
  })

  it('polls from the start, opening no socket, when the pod fails its health check', async () => {
    const captured: AnalyticsEvent[] = []
    const connections = count('connection')
    simulator.failEndpoint({ path: '/system_stats', status: 500 })
    const target = client({ analytics: { capture: (event) => captured.push(event) } })
    const result = await target.executeWorkflow(txt2imgWith(2))
    expect(result).toMatchObject({ status: 'completed', method: 'rest_polling' })
    expect(connections.value).toBe(0)
    expect(captured.filter((event) => event.event === 'comfyui_websocket_fallback')).toEqual([
      {
        event: 'comfyui_websocket_fallback',
        properties: {
          promptId: result.promptId,
          reason: 'connection_failed',
          fallbackMethod: 'rest_polling',
        },
      },
    ])
    expect(captured.at(-1)?.event).toBe('comfyui_job_rest_polling_completed')
  })

  it('skips the health check while the socket is open', async () => {
    const target = client()
    const checks = requests('/system_stats')
    await target.executeWorkflow(tinyImage())
    expect(checks.value).toBe(1)
    await target.executeWorkflow(tinyImage())
    expect(checks.value).toBe(1)
  })

  it('rejects with the job’s error, and keeps going when onProgress throws', async () => {
    const thrown: unknown[] = []
    const target = client({ onHandlerError: (error) => thrown.push(error) })
    const result = await target.executeWorkflow(txt2imgWith(3), () => {
      throw new Error('bad callback')
    })
    expect(result.status).toBe('completed')
    expect(thrown.length).toBe(result.progressUpdates)
    simulator.failNode({ classType: 'KSampler' })
    expect(await failure(target.executeWorkflow(txt2imgWith(3)))).toBeInstanceOf(
      ComfyExecutionError,
    )
  })

  it('rejects a workflow in the UI format with a TypeError before anything is sent', async () => {
    const queued = count('promptQueued')
    const checks = requests('/system_stats')
    const error = await failure(client().executeWorkflow({ nodes: [] } as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(queued.value + checks.value).toBe(0)
  })
})

describe('ComfyUIPodClient.executeWorkflowWithWebSocket', () => {
  it('completes over the socket', async () => {
    const result = await client().executeWorkflowWithWebSocket(tinyImage())
    expect(result).toMatchObject({ status: 'completed', method: 'websocket' })
  })

  it('rejects with ComfyConnectionError when the socket is refused, queueing nothing', async () => {
    simulator.refuseSockets(true)
    const queued = count('promptQueued')
    const error = await failure(client().executeWorkflowWithWebSocket(tinyImage()))
    expect(error).toBeInstanceOf(ComfyConnectionError)
    expect(queued.value).toBe(0)
  })

  it('rejects with ComfyConnectionError when the pod fails its health check', async () => {
    simulator.failEndpoint({ path: '/system_stats', status: 503 })
    const connections = count('connection')
    const error = await failure(client().executeWorkflowWithWebSocket(tinyImage()))
    expect(error).toBeInstanceOf(ComfyConnectionError)
    expect(error).toMatchObject({ reason: 'health_check_failed' })
    expect(connections.value).toBe(0)
  })

  it('rejects with ComfyConnectionError when the socket is lost mid-run for good', async () => {
    simulator.once('promptStarted', () => {
      simulator.refuseSockets(true)
      simulator.dropSockets()
    })
    const error = await failure(client().executeWorkflowWithWebSocket(txt2imgWith(30)))
    expect(error).toBeInstanceOf(ComfyConnectionError)
  })
})

describe('ComfyUIPodClient options', () => {
  it('rejects invalid options with a TypeError naming them', () => {
    expect(() => new ComfyUIPodClient('http://127.0.0.1:1', { healthCheckTimeoutMs: 0 })).toThrow(
      /healthCheckTimeoutMs must be a number > 0, received 0/,
    )
    expect(() => new ComfyUIPodClient('http://127.0.0.1:1', { jobType: 'video' as never })).toThrow(
      /jobType must be/,
    )
    expect(() => new ComfyUIPodClient('ftp://x')).toThrow(TypeError)
  })

  it('answers checkHealth false when the pod does not answer within healthCheckTimeoutMs', async () => {
    // Accepts every request and never answers.
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    const target = new ComfyUIPodClient(`http://127.0.0.1:${port}`, {
      healthCheckTimeoutMs: 50,
      requestTimeoutMs: 1_000,
    })
    try {
      expect(await target.checkHealth()).toBe(false)
    } finally {
      target.close()
      silent.closeAllConnections()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('answers checkHealth from GET /system_stats', async () => {
    const target = client()
    expect(await target.checkHealth()).toBe(true)
    simulator.failEndpoint({ path: '/system_stats', status: 500 })
    expect(await target.checkHealth()).toBe(false)
  })
})
