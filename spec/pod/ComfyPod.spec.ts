import type { IncomingHttpHeaders } from 'node:http'
import { lastValueFrom, toArray } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ComfyExecutionError,
  ComfyHttpError,
  ComfyInterruptedError,
  ComfyPod,
  ComfyValidationError,
  type ComfyPodOptions,
  type JobEvent,
  type PodDiagnostic,
  type Workflow,
} from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

const workflow = txt2img as Workflow
const withSteps = (steps: number): Workflow => ({
  ...workflow,
  '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, steps, seed: Math.random() } },
})

let simulator: ComfySimulator
const pods: ComfyPod[] = []

function pod(options: ComfyPodOptions = {}, url = simulator.url): ComfyPod {
  const created = new ComfyPod(url, {
    idleCloseMs: 20,
    reconnectDelayMs: 10,
    maxReconnectAttempts: 1,
    ...options,
  })
  pods.push(created)
  return created
}

function run(target: ComfyPod, job: Workflow, options = {}): Promise<JobEvent[]> {
  return lastValueFrom(
    target.executeWorkflow$(job, { progressThrottleMs: 0, ...options }).pipe(toArray()),
  )
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the job to fail')
    },
    (error: unknown) => error,
  )
}

function until(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (predicate() ? resolve() : setImmediate(check))
    check()
  })
}

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
})

afterEach(async () => {
  for (const created of pods.splice(0)) created.close()
  await simulator.close()
})

describe('ComfyPod over a real socket', () => {
  it('runs txt2img to one completion with rising progress, previews and a viewable image', async () => {
    const events = await run(pod(), withSteps(8))
    const types = events.map((event) => event.type)
    expect(types.slice(0, 2)).toEqual(['queued', 'started'])
    expect(types.at(-1)).toBe('completed')
    expect(types.filter((type) => type === 'completed')).toHaveLength(1)
    expect(types.filter((type) => type === 'preview')).toHaveLength(8)
    const progress = events.flatMap((event) => (event.type === 'progress' ? [event.progress] : []))
    expect(
      progress
        .slice(0, -1)
        .every((value, i, all) => value < 100 && (i === 0 || value >= all[i - 1]!)),
    ).toBe(true)
    expect(progress.at(-1)).toBe(100)
    const completed = events.at(-1)
    if (completed?.type !== 'completed') throw new Error('no completion')
    expect(completed.result).toMatchObject({
      status: 'completed',
      method: 'websocket',
      progressUpdates: progress.length,
    })
    expect(completed.result.images).toHaveLength(1)
    const image = await fetch(completed.result.images[0]!.url)
    expect(Buffer.from(await image.arrayBuffer()).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    )
  })

  it('completes only after every output node, not on the first executed', async () => {
    const twoOutputs: Workflow = {
      ...withSteps(3),
      '10': { class_type: 'PreviewImage', inputs: { images: ['8', 0] } },
    }
    const events = await run(pod(), twoOutputs)
    const executed = events.flatMap((event) => (event.type === 'node_executed' ? [event.node] : []))
    expect(executed.sort()).toEqual(['10', '9'])
    const completed = events.at(-1)
    expect(completed?.type === 'completed' && Object.keys(completed.result.outputs).sort()).toEqual(
      ['10', '9'],
    )
    expect(
      completed?.type === 'completed' && completed.result.images.map((image) => image.type).sort(),
    ).toEqual(['output', 'temp'])
  })

  it('reads history only when the socket may not have given every output: once for a cached output node', async () => {
    const histories: string[] = []
    simulator.on('request', (_method: string, path: string) => {
      if (path.startsWith('/history/')) histories.push(path)
    })
    const target = pod()
    // A fixed seed: the same prompt twice.
    const again: Workflow = {
      ...workflow,
      '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, steps: 3, seed: 7 } },
    }
    const first = await run(target, again)
    expect(first.at(-1)?.type).toBe('completed')
    expect(histories).toEqual([])
    // The same prompt again: every node cached, the output node's `executed` without a run.
    const second = await run(target, again)
    const completed = second.at(-1)
    expect(completed?.type).toBe('completed')
    expect(histories).toHaveLength(1)
    expect(completed?.type === 'completed' && completed.result.images).toHaveLength(1)
  })

  it('shares one socket among concurrent jobs and routes each its own events', async () => {
    const shared = pod()
    const [a, b, c] = await Promise.all([
      run(shared, withSteps(3)),
      run(shared, withSteps(4)),
      run(shared, withSteps(5)),
    ])
    expect(simulator.clientIds).toEqual([shared.clientId])
    for (const [events, steps] of [
      [a!, 3],
      [b!, 4],
      [c!, 5],
    ] as const) {
      const ids = new Set(events.map((event) => event.promptId))
      expect(ids.size).toBe(1)
      expect(events.filter((event) => event.type === 'preview')).toHaveLength(steps)
      expect(events.at(-1)?.type).toBe('completed')
    }
  })

  it('keeps two clients of one pod apart', async () => {
    const [a, b] = [pod(), pod()]
    const [eventsA, eventsB] = await Promise.all([run(a, withSteps(3)), run(b, withSteps(3))])
    expect(eventsA.at(-1)?.promptId).not.toBe(eventsB.at(-1)?.promptId)
    expect(new Set(eventsA.map((event) => event.promptId)).size).toBe(1)
    expect(new Set(eventsB.map((event) => event.promptId)).size).toBe(1)
  })

  it('closes its socket idleCloseMs after the last job and leaves nothing behind', async () => {
    const target = pod()
    await run(target, withSteps(2))
    await until(() => simulator.openSockets === 0)
    expect(simulator.openSockets).toBe(0)
  })

  it('sends its headers on the WebSocket handshake and on REST calls', async () => {
    const seen: IncomingHttpHeaders[] = []
    simulator.httpServer.prependListener('upgrade', (request) => seen.push(request.headers))
    simulator.httpServer.prependListener('request', (request) => seen.push(request.headers))
    await run(pod({ headers: { 'x-api-key': 'k1' } }), withSteps(1))
    expect(seen.length).toBeGreaterThan(2)
    expect(seen.every((headers) => headers['x-api-key'] === 'k1')).toBe(true)
  })

  it('fails with ComfyValidationError carrying node_errors when the pod answers 400', async () => {
    const invalid: Workflow = {
      ...workflow,
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 0, height: 64, batch_size: 1 } },
    }
    const error = await failure(run(pod(), invalid))
    expect(error).toBeInstanceOf(ComfyValidationError)
    expect((error as ComfyValidationError).nodeErrors['5']?.errors[0]?.type).toBe(
      'value_smaller_than_min',
    )
  })

  it('fails with ComfyExecutionError when a node raises, after the events before it', async () => {
    simulator.failNode({
      classType: 'VAEDecode',
      message: 'CUDA out of memory',
      exceptionType: 'torch.OutOfMemoryError',
    })
    const error = await failure(run(pod(), withSteps(2)))
    expect(error).toBeInstanceOf(ComfyExecutionError)
    expect(error).toMatchObject({
      nodeId: '8',
      nodeType: 'VAEDecode',
      exceptionType: 'torch.OutOfMemoryError',
    })
    expect((error as ComfyExecutionError).exceptionMessage).toContain('CUDA out of memory')
  })

  it('fails with ComfyHttpError when POST /prompt answers 500', async () => {
    simulator.failEndpoint({ path: '/prompt', method: 'POST', status: 500 })
    const error = await failure(run(pod(), withSteps(1)))
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect(error).toMatchObject({ status: 500, method: 'POST' })
  })

  it('fails with ComfyHttpError (status 0) when nothing listens on the port', async () => {
    const url = simulator.url
    await simulator.close()
    const error = await failure(run(pod({}, url), withSteps(1)))
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect(error).toMatchObject({ status: 0, method: 'POST' })
    simulator = await startComfySimulator()
  })

  it('reports a malformed frame mid-run on diagnostics$ and still completes', async () => {
    const target = pod()
    const diagnostics: PodDiagnostic[] = []
    target.diagnostics$.subscribe((diagnostic) => diagnostics.push(diagnostic))
    simulator.once('promptStarted', () => {
      simulator.sendRawFrame('{"type":"progress","data":{"value":"NaN"}}')
      simulator.sendRawFrame('<html>502</html>')
    })
    const events = await run(target, withSteps(4))
    expect(events.at(-1)?.type).toBe('completed')
    expect(diagnostics.map((d) => d.kind === 'decode_issue' && d.reason)).toEqual([
      'invalid_message',
      'invalid_json',
    ])
  })

  it('asks GET /queue once for all the jobs that ask together', async () => {
    simulator.pause()
    const queued = pod()
    const ids = await Promise.all(
      Array.from({ length: 30 }, async () => (await queued.queueWorkflow(withSteps(1))).promptId),
    )
    let queueReads = 0
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/queue') && init?.method === 'GET') queueReads++
      return fetch(input, init)
    }
    const watcher = pod({ fetch: counting })
    // Tracked prompts start with a REST round, all at once; the next ones are 500 ms away.
    const jobs = ids.map((id) =>
      lastValueFrom(watcher.track$(id, { socket: false, pollIntervalMs: 500 }).pipe(toArray())),
    )
    await until(() => queueReads > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(queueReads).toBe(1)
    simulator.resume()
    const ends = (await Promise.all(jobs)).map((events) => events.at(-1)?.type)
    expect(ends).toEqual(ids.map(() => 'completed'))
  })

  it('cancels its own running prompt on abort, and another client’s prompt survives', async () => {
    simulator = await restartSlow()
    const mine = pod()
    const theirs = pod()
    const controller = new AbortController()
    const theirJob = run(theirs, withSteps(30))
    simulator.once('promptStarted', () => setTimeout(() => controller.abort(), 20))
    const queued = new Promise<string>((resolve) => simulator.once('promptQueued', resolve))
    const error = failure(run(mine, withSteps(30), { signal: controller.signal }))
    const myPromptId = await queued
    expect(await error).toBeInstanceOf(ComfyInterruptedError)
    expect((await theirJob).at(-1)?.type).toBe('completed')
    await until(
      () =>
        simulator.historyPromptIds.includes(myPromptId) ||
        !simulator.pendingPromptIds.includes(myPromptId),
    )
    expect(simulator.pendingPromptIds).not.toContain(myPromptId)
  })
})

async function restartSlow(): Promise<ComfySimulator> {
  await simulator.close()
  return startComfySimulator({ stepDurationMs: 5, nodeDurationMs: 1 })
}
