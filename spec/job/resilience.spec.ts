import { createServer, connect, type Server, type Socket } from 'node:net'
import { lastValueFrom, type Observable, toArray } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ComfyAuthError,
  ComfyConnectionError,
  ComfyInterruptedError,
  ComfyPod,
  ComfyPromptLostError,
  ComfyTimeoutError,
  type ComfyPodOptions,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type Workflow,
} from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

const withSteps = (steps: number): Workflow => {
  const workflow = txt2img as Workflow
  return {
    ...workflow,
    '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, steps, seed: Math.random() } },
  }
}

let simulator: ComfySimulator
const pods: ComfyPod[] = []
const servers: (Server & { closeConnections(): void })[] = []

function pod(options: ComfyPodOptions = {}, url = simulator.url): ComfyPod {
  const created = new ComfyPod(url, {
    idleCloseMs: 20,
    connectTimeoutMs: 300,
    reconnectDelayMs: 10,
    maxReconnectDelayMs: 40,
    maxReconnectAttempts: 2,
    ...options,
  })
  pods.push(created)
  return created
}

const FAST: ExecuteWorkflowOptions = {
  progressThrottleMs: 0,
  pollIntervalMs: 20,
  stallTimeoutMs: 300,
  timeoutMs: 15_000,
}

function run(events$: Observable<JobEvent>): Promise<JobEvent[]> {
  return lastValueFrom(events$.pipe(toArray()))
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the job to fail')
    },
    (error: unknown) => error,
  )
}

/** Exactly one start, one end, and progress that never goes back. */
function expectOneCleanEnd(events: JobEvent[]): void {
  const types = events.map((event) => event.type)
  expect(types[0]).toBe('queued')
  expect(types.filter((type) => type === 'queued')).toHaveLength(1)
  expect(types.filter((type) => type === 'started')).toHaveLength(1)
  expect(types.filter((type) => type === 'completed')).toHaveLength(1)
  expect(types.at(-1)).toBe('completed')
  const progress = events.flatMap((event) => (event.type === 'progress' ? [event.progress] : []))
  expect(progress.every((value, i) => i === 0 || value >= progress[i - 1]!)).toBe(true)
  expect(progress.at(-1)).toBe(100)
}

function once<T extends unknown[]>(
  event: 'promptStarted' | 'promptQueued' | 'promptFinished',
): Promise<T> {
  return new Promise((resolve) => simulator.once(event, (...args: unknown[]) => resolve(args as T)))
}

/** A front for the simulator that passes HTTP through and swallows WebSocket upgrades. */
async function blackholeSockets(target: ComfySimulator): Promise<string> {
  const held: Socket[] = []
  const server = createServer((client) => {
    held.push(client)
    client.once('data', (head) => {
      if (/upgrade: websocket/i.test(head.toString('latin1'))) return
      const upstream = connect(target.port, target.host, () => {
        upstream.write(head)
        client.pipe(upstream).pipe(client)
      })
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
    })
  })
  servers.push(
    Object.assign(server, { closeConnections: () => held.forEach((socket) => socket.destroy()) }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 3, nodeDurationMs: 1 })
})

afterEach(async () => {
  for (const created of pods.splice(0)) created.close()
  for (const server of servers.splice(0)) {
    server.closeConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  await simulator.close()
})

describe('executeWorkflow$ when the network misbehaves', () => {
  it('falls back to polling /queue and /history when the socket is refused from the start', async () => {
    simulator.refuseSockets(true)
    const events = await run(pod().executeWorkflow$(withSteps(3), FAST))
    expectOneCleanEnd(events)
    const completed = events.at(-1)
    expect(completed).toMatchObject({ source: 'rest_polling', result: { method: 'rest_polling' } })
    expect(completed?.type === 'completed' && completed.result.images).toHaveLength(1)
  })

  it('gives the same result over polling as over the socket', async () => {
    const workflow = withSteps(2)
    const bySocket = (await run(pod().executeWorkflow$(workflow, FAST))).at(-1)
    simulator.refuseSockets(true)
    const byPolling = (await run(pod().executeWorkflow$(workflow, FAST))).at(-1)
    if (bySocket?.type !== 'completed' || byPolling?.type !== 'completed')
      throw new Error('no completion')
    expect(Object.keys(byPolling.result.outputs)).toEqual(Object.keys(bySocket.result.outputs))
    expect(byPolling.result.images.map((i) => i.type)).toEqual(
      bySocket.result.images.map((i) => i.type),
    )
  })

  it('completes over the socket after a drop mid-run that it recovers from', async () => {
    const target = pod()
    simulator.once('promptStarted', () => setTimeout(() => simulator.dropSockets(), 15))
    const events = await run(target.executeWorkflow$(withSteps(20), FAST))
    expectOneCleanEnd(events)
    expect(events.at(-1)?.source).toBe('websocket')
  })

  it('completes by polling when the socket drops mid-run for good', async () => {
    simulator.once('promptStarted', () =>
      setTimeout(() => {
        simulator.refuseSockets(true)
        simulator.dropSockets()
      }, 15),
    )
    const events = await run(pod().executeWorkflow$(withSteps(20), FAST))
    expectOneCleanEnd(events)
    expect(events.at(-1)?.source).toBe('rest_polling')
  })

  it('falls back to polling when the socket is blackholed (TCP accepted, never answered)', async () => {
    const url = await blackholeSockets(simulator)
    const events = await run(
      pod({ connectTimeoutMs: 50, maxReconnectAttempts: 0 }, url).executeWorkflow$(
        withSteps(2),
        FAST,
      ),
    )
    expectOneCleanEnd(events)
    expect(events.at(-1)?.source).toBe('rest_polling')
  })

  it('finds the end over REST when the socket goes silent, and reopens it', async () => {
    const target = pod()
    let connections = 0
    simulator.on('connection', () => connections++)
    simulator.once('promptStarted', () => simulator.setSilent(true))
    const events = await run(
      target.executeWorkflow$(withSteps(80), { ...FAST, stallTimeoutMs: 100 }),
    )
    expectOneCleanEnd(events)
    expect(events.at(-1)?.source).toBe('rest_polling')
    expect(connections).toBeGreaterThanOrEqual(2)
  })

  it('fails with ComfyPromptLostError when the pod restarts mid-run', async () => {
    simulator.once('promptStarted', () => setTimeout(() => void simulator.restart(), 20))
    const error = await failure(run(pod().executeWorkflow$(withSteps(30), FAST)))
    expect(error).toBeInstanceOf(ComfyPromptLostError)
  })

  it('keeps polling through 500s on /history and completes when it recovers', async () => {
    simulator.refuseSockets(true)
    simulator.failEndpoint({ path: /^\/history\//, status: 500, times: 3 })
    const events = await run(pod().executeWorkflow$(withSteps(2), FAST))
    expectOneCleanEnd(events)
  })

  it('completes a prompt that finished while the socket was away, from history after reconnecting', async () => {
    const target = pod({ maxReconnectAttempts: 20 })
    simulator.once('promptStarted', () => {
      simulator.refuseSockets(true)
      simulator.dropSockets()
      simulator.once('promptFinished', () => simulator.refuseSockets(false))
    })
    const events = await run(target.executeWorkflow$(withSteps(5), FAST))
    expectOneCleanEnd(events)
  })

  it('loses nothing when the prompt finishes before the answer to POST /prompt', async () => {
    const slowPost: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      if (init?.method === 'POST' && String(input).endsWith('/prompt')) await once('promptFinished')
      return response
    }
    const events = await run(pod({ fetch: slowPost }).executeWorkflow$(withSteps(2), FAST))
    expectOneCleanEnd(events)
    expect(events.at(-1)?.source).toBe('websocket')
  })

  it('fails at once with ComfyAuthError, without retrying, when the upgrade answers 401', async () => {
    simulator.failEndpoint({ path: '/ws', status: 401, times: Number.POSITIVE_INFINITY })
    let upgrades = 0
    simulator.on('request', (_method, path) => path === '/ws' && upgrades++)
    const error = await failure(
      run(pod({ maxReconnectAttempts: 5 }).executeWorkflow$(withSteps(1), FAST)),
    )
    expect(error).toBeInstanceOf(ComfyAuthError)
    expect(upgrades).toBeLessThanOrEqual(1)
    expect(simulator.queueRemaining + simulator.historyPromptIds.length).toBe(0)
  })

  it('fails with a queue ComfyTimeoutError and removes the prompt after queueTimeoutMs', async () => {
    simulator.pause()
    const error = await failure(
      run(pod().executeWorkflow$(withSteps(1), { ...FAST, queueTimeoutMs: 50 })),
    )
    expect(error).toBeInstanceOf(ComfyTimeoutError)
    expect(error).toMatchObject({ phase: 'queue' })
    await new Promise<void>((resolve) => {
      const check = () =>
        simulator.pendingPromptIds.length === 0 ? resolve() : setTimeout(check, 5)
      check()
    })
  })

  it('interrupts its own running prompt on cancel and leaves another client’s alone', async () => {
    const [mine, theirs] = [pod(), pod()]
    const started = once<[string]>('promptStarted')
    const myJob = failure(run(mine.executeWorkflow$(withSteps(40), FAST)))
    const [myPromptId] = await started
    const theirJob = run(theirs.executeWorkflow$(withSteps(2), FAST))
    await mine.cancel(myPromptId)
    expect(await myJob).toBeInstanceOf(ComfyInterruptedError)
    expect((await theirJob).at(-1)?.type).toBe('completed')
  })

  it('cancels a prompt whose POST /prompt was still under way when the signal aborted', async () => {
    simulator.pause()
    const controller = new AbortController()
    // The abort comes first, and the POST reaches the pod only after the job's cancel has begun.
    const slowPost: typeof fetch = async (input, init) => {
      if (init?.method !== 'POST' || !String(input).endsWith('/prompt')) return fetch(input, init)
      controller.abort()
      await new Promise((resolve) => setTimeout(resolve, 30))
      return fetch(input, init)
    }
    const queued = once<[string]>('promptQueued')
    const deleted = new Promise<void>((resolve) =>
      simulator.on(
        'request',
        (method, path) => method === 'POST' && path === '/queue' && resolve(),
      ),
    )
    const job = pod({ fetch: slowPost }).executeWorkflow$(withSteps(1), {
      ...FAST,
      signal: controller.signal,
    })
    expect(await failure(run(job))).toBeInstanceOf(ComfyInterruptedError)
    const [promptId] = await queued
    await deleted
    // The delete is being handled: give the pod its turn before looking.
    for (let i = 0; i < 100 && simulator.pendingPromptIds.includes(promptId); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(simulator.pendingPromptIds).not.toContain(promptId)
  })

  it('cancels the prompt when unsubscribed with cancelOnUnsubscribe', async () => {
    simulator.pause()
    const queued = once<[string]>('promptQueued')
    const subscription = pod()
      .executeWorkflow$(withSteps(1), { ...FAST, cancelOnUnsubscribe: true })
      .subscribe()
    const [promptId] = await queued
    subscription.unsubscribe()
    await new Promise<void>((resolve) => {
      const check = () =>
        !simulator.pendingPromptIds.includes(promptId) ? resolve() : setTimeout(check, 5)
      check()
    })
    expect(simulator.pendingPromptIds).not.toContain(promptId)
  })
})

describe('track$', () => {
  it('follows a prompt queued by a previous process with the same clientId', async () => {
    const first = pod()
    simulator.pause()
    const { promptId } = await first.queueWorkflow(withSteps(5))
    first.close()
    const second = pod({ clientId: first.clientId })
    simulator.resume()
    const events = await run(second.track$(promptId, FAST))
    expectOneCleanEnd(events)
    expect(events.every((event) => event.promptId === promptId)).toBe(true)
    const progress = events.filter((event) => event.type === 'progress')
    expect(
      progress.some((event) => event.type === 'progress' && Object.keys(event.nodes).length > 0),
    ).toBe(true)
  })

  it('completes at once from history for a prompt that already finished', async () => {
    const target = pod()
    const finished = (await run(target.executeWorkflow$(withSteps(1), FAST))).at(-1)!
    const events = await run(pod().track$(finished.promptId, FAST))
    expect(events.map((event) => event.type)).toEqual([
      'queued',
      'started',
      'progress',
      'completed',
    ])
  })

  it('fails with ComfyPromptLostError for a prompt the pod does not know', async () => {
    const error = await failure(run(pod().track$('no-such-prompt', FAST)))
    expect(error).toBeInstanceOf(ComfyPromptLostError)
  })

  it('follows another client’s prompt over REST alone with socket: false, opening no socket', async () => {
    simulator.pause()
    const { promptId } = await pod().queueWorkflow(withSteps(3))
    for (const each of pods) each.close()
    const watcher = pod()
    const events$ = watcher.track$(promptId, { ...FAST, socket: false })
    setTimeout(() => simulator.resume(), 100)
    const events = await run(events$)
    expectOneCleanEnd(events)
    expect(new Set(events.map((event) => event.source))).toEqual(new Set(['rest_polling']))
    expect(simulator.clientIds).not.toContain(watcher.clientId)
    expect(() => watcher.track$(promptId, { socket: false, restFallback: false })).toThrow(
      /socket: false needs restFallback/,
    )
  })
})

describe('executeWorkflow$ with restFallback: false', () => {
  it('fails with ComfyConnectionError when the socket is refused, and queues nothing', async () => {
    simulator.refuseSockets(true)
    const error = await failure(
      run(pod().executeWorkflow$(withSteps(1), { ...FAST, restFallback: false })),
    )
    expect(error).toBeInstanceOf(ComfyConnectionError)
    expect(simulator.queueRemaining + simulator.historyPromptIds.length).toBe(0)
  })

  it('fails with ComfyConnectionError when the socket drops for good mid-run', async () => {
    simulator.once('promptStarted', () =>
      setTimeout(() => {
        simulator.refuseSockets(true)
        simulator.dropSockets()
      }, 15),
    )
    const error = await failure(
      run(pod().executeWorkflow$(withSteps(20), { ...FAST, restFallback: false })),
    )
    expect(error).toBeInstanceOf(ComfyConnectionError)
  })
})
