import { lastValueFrom, toArray } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ComfyExecutionError,
  ComfyPod,
  type ComfyPodOptions,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type Workflow,
} from '../../src/index.js'
import { posthogSink, type PostHogSink } from '../../src/analytics/posthogSink.js'
import { reportJob } from '../../src/analytics/reportJob.js'
import { reportPod } from '../../src/analytics/reportPod.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { txt2imgWith } from '../compat/workflows.js'
import { capturePostHog, type CapturedEvent } from './capturePostHog.js'

const withSteps = txt2imgWith
const FAST: ExecuteWorkflowOptions = {
  progressThrottleMs: 0,
  pollIntervalMs: 20,
  timeoutMs: 15_000,
}

let simulator: ComfySimulator
let capture: Awaited<ReturnType<typeof capturePostHog>>
const cleanups: (() => unknown)[] = []

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await simulator.close()
})

/** A pod whose URL carries credentials, reported to a PostHog sink on a local capture server. */
async function setUp(podOptions: ComfyPodOptions = {}, status = 200) {
  capture = await capturePostHog(status)
  cleanups.push(() => capture.close())
  const sink = posthogSink({
    apiKey: 'phc_test_key',
    host: capture.url,
    distinctId: 'backend-1',
    flushAt: 100,
    flushInterval: 60_000,
    shutdownTimeoutMs: 5_000,
  })
  cleanups.push(() => sink.close())
  const url = simulator.url.replace('http://', 'http://alice:hunter2@') + '/?token=s3cr3t'
  const pod = new ComfyPod(url, {
    idleCloseMs: 10_000,
    reconnectDelayMs: 10,
    maxReconnectDelayMs: 60_000,
    maxReconnectAttempts: 1,
    ...podOptions,
  })
  cleanups.push(() => pod.close())
  const reporting = reportPod(pod, sink)
  cleanups.push(() => reporting.unsubscribe())
  const run = (workflow: Workflow) =>
    lastValueFrom(
      pod
        .executeWorkflow$(workflow, FAST)
        .pipe(reportJob(sink, { pod, progressThrottleMs: 60_000 }), toArray()),
    )
  return { sink, pod, run }
}

/** The properties this library sent (posthog-node adds its own `$…` ones). */
function ours(event: CapturedEvent): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(event.properties).filter(([key]) => !key.startsWith('$')),
  )
}

async function closeAndDecode(sink: PostHogSink, pod: ComfyPod): Promise<CapturedEvent[]> {
  pod.close()
  expect(capture.batches).toHaveLength(0) // nothing went out before close: flushAt/flushInterval hold it
  await sink.close()
  for (const batch of capture.batches) {
    expect(batch.path).toBe('/batch/')
    expect(batch.json.api_key).toBe('phc_test_key')
  }
  expect(capture.bodies).not.toMatch(/hunter2|s3cr3t|alice/)
  const events = capture.events
  for (const event of events) expect(event.distinct_id).toBe('backend-1')
  return events
}

describe('posthogSink with the real posthog-node client', () => {
  it('sends the socket job funnel with exactly the design’s properties, flushed on close', async () => {
    const { sink, pod, run } = await setUp()
    const jobEvents: JobEvent[] = await run(withSteps(4))
    const done = jobEvents.at(-1)
    if (done?.type !== 'completed') throw new Error('no completion')
    const events = await closeAndDecode(sink, pod)
    expect(capture.batches.some((b) => b.headers['content-encoding'] === 'gzip')).toBe(true)

    expect(events.map((event) => event.event)).toEqual([
      'comfyui_websocket_connected',
      'comfyui_progress_update',
      'comfyui_job_websocket_completed',
      'comfyui_websocket_disconnected',
    ])
    const [connected, progress, completed, disconnected] = events.map(ours)
    const serverUrl = `${simulator.url.replace('http://', 'http://***@')}/?token=***`
    expect(connected).toEqual({
      clientId: pod.clientId,
      serverUrl,
      connectionTime: expect.any(Number),
    })
    expect(connected!['connectionTime']).toBeGreaterThanOrEqual(0)
    expect(progress).toEqual({
      promptId: done.promptId,
      progress: expect.any(Number),
      jobType: 'image_generation',
    })
    expect(completed).toEqual({
      promptId: done.promptId,
      duration: done.result.durationMs / 1000,
      progressUpdates: done.result.progressUpdates,
      method: 'websocket',
    })
    expect(done.result.progressUpdates).toBeGreaterThan(0)
    expect(disconnected).toEqual({
      clientId: pod.clientId,
      reason: 'pod closed',
      duration: expect.any(Number),
    })
    expect(disconnected!['duration']).toBeGreaterThan(0)
  })

  it('sends the failed attempts, the fallback and the REST polling completion of a refused socket', async () => {
    simulator.refuseSockets(true)
    const { sink, pod, run } = await setUp()
    const done = (await run(withSteps(2))).at(-1)
    if (done?.type !== 'completed') throw new Error('no completion')
    expect(done.result.method).toBe('rest_polling')
    const events = await closeAndDecode(sink, pod)

    const names = events
      .map((event) => event.event)
      .filter((name) => name !== 'comfyui_progress_update')
    expect(names).toEqual([
      'comfyui_websocket_connection_failed',
      'comfyui_websocket_connection_failed',
      'comfyui_websocket_fallback',
      'comfyui_job_rest_polling_completed',
    ])
    const byName = (name: string) => events.filter((event) => event.event === name).map(ours)
    const serverUrl = `${simulator.url.replace('http://', 'http://***@')}/?token=***`
    expect(byName('comfyui_websocket_connection_failed')).toEqual([
      { clientId: pod.clientId, serverUrl, reason: expect.any(String), attempt: 1 },
      { clientId: pod.clientId, serverUrl, reason: expect.any(String), attempt: 2 },
    ])
    expect(byName('comfyui_websocket_fallback')).toEqual([
      { promptId: done.promptId, reason: 'connection_failed', fallbackMethod: 'rest_polling' },
    ])
    expect(byName('comfyui_job_rest_polling_completed')).toEqual([
      {
        promptId: done.promptId,
        duration: done.result.durationMs / 1000,
        progressUpdates: done.result.progressUpdates,
        method: 'rest_polling',
      },
    ])
    for (const update of byName('comfyui_progress_update')) {
      expect(update).toEqual({
        promptId: done.promptId,
        progress: expect.any(Number),
        jobType: 'image_generation',
      })
    }
  })

  it('sends a failed job with its error, and no credentials anywhere', async () => {
    simulator.failNode({ classType: 'KSampler', message: 'CUDA out of memory' })
    const { sink, pod, run } = await setUp()
    const error = await run(withSteps(3)).then(
      () => undefined,
      (failure: unknown) => failure,
    )
    expect(error).toBeInstanceOf(ComfyExecutionError)
    const events = await closeAndDecode(sink, pod)
    const failed = events.filter((event) => event.event === 'comfyui_job_websocket_failed')
    expect(failed.map(ours)).toEqual([
      {
        promptId: (error as ComfyExecutionError).promptId,
        error: 'ComfyExecutionError: node 3 (KSampler) failed: RuntimeError: CUDA out of memory',
        method: 'websocket',
      },
    ])
  })

  it('leaves jobs untouched when PostHog is down, and close() still ends', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    cleanups.push(() => logged.mockRestore())
    capture = await capturePostHog(503)
    cleanups.push(() => capture.close())
    const sink = posthogSink({
      apiKey: 'phc_test_key',
      host: capture.url,
      flushAt: 1,
      shutdownTimeoutMs: 300,
      posthog: { fetchRetryDelay: 50 },
    })
    const pod = new ComfyPod(simulator.url, { idleCloseMs: 10 })
    cleanups.push(() => pod.close())
    const reporting = reportPod(pod, sink)
    cleanups.push(() => reporting.unsubscribe())
    const events = await lastValueFrom(
      pod
        .executeWorkflow$(withSteps(3), FAST)
        .pipe(reportJob(sink, { pod, progressThrottleMs: 0 }), toArray()),
    )
    expect(events.at(-1)?.type).toBe('completed')
    await sink.close()
    expect(capture.batches.length).toBeGreaterThan(0) // it did try
    sink.capture({
      event: 'comfyui_websocket_fallback',
      properties: { promptId: 'late', reason: 'error', fallbackMethod: 'rest_polling' },
    }) // after close: dropped, no throw
  })

  it('rejects invalid options with a TypeError naming them', () => {
    expect(() => posthogSink({ apiKey: '' })).toThrow(
      /apiKey must be a non-empty string, received ""/,
    )
    expect(() => posthogSink({ apiKey: 'k', host: 'ftp://x' })).toThrow(
      /host must be an http\(s\) URL, received "ftp:\/\/x"/,
    )
    expect(() => posthogSink({ apiKey: 'k', flushAt: 0 })).toThrow(
      /flushAt must be an integer >= 1/,
    )
  })
})
