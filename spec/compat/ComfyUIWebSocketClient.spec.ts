import { once } from 'node:events'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyExecutionError,
  ComfyPromptLostError,
  type ComfyUIJobResult,
} from '../../src/index.js'
import { ComfyUIPodClient } from '../../src/compat/ComfyUIPodClient.js'
import { ComfyUIWebSocketClient } from '../../src/compat/ComfyUIWebSocketClient.js'
import type { ComfyUIWebSocketClientOptions } from '../../src/compat/ComfyUIWebSocketClientOptions.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { failure, tinyImage, txt2imgWith, until } from './workflows.js'

let simulator: ComfySimulator
const extraSimulators: ComfySimulator[] = []
const cleanups: (() => void)[] = []

function sockets(options: ComfyUIWebSocketClientOptions = {}): ComfyUIWebSocketClient {
  const created = new ComfyUIWebSocketClient({
    podOptions: { reconnectDelayMs: 10, maxReconnectAttempts: 1, idleCloseMs: 20 },
    trackOptions: { progressThrottleMs: 0, pollIntervalMs: 20, timeoutMs: 15_000 },
    ...options,
  })
  cleanups.push(() => created.clientIds.forEach((clientId) => created.disconnect(clientId)))
  return created
}

/** A REST client that queues prompts for the socket registered under `clientId`. */
function queuer(clientId: string, url = simulator.url): ComfyUIPodClient {
  const created = new ComfyUIPodClient(url, { clientId })
  cleanups.push(() => created.close())
  return created
}

/** Registers every handler of a prompt and resolves with how it ended. */
function follow(
  client: ComfyUIWebSocketClient,
  promptId: string,
): { progress: number[]; ended: Promise<ComfyUIJobResult | Error> } {
  const progress: number[] = []
  const ended = new Promise<ComfyUIJobResult | Error>((resolve) => {
    client.onProgress(promptId, (value) => progress.push(value))
    client.onCompletion(promptId, resolve)
    client.onError(promptId, resolve)
  })
  return { progress, ended }
}

beforeEach(async () => {
  simulator = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  await simulator.close()
  for (const extra of extraSimulators.splice(0)) await extra.close()
})

describe('ComfyUIWebSocketClient.connect and disconnect', () => {
  it('opens one socket under the clientId, reuses it, and closes it on disconnect', async () => {
    const client = sockets()
    const clientId = await client.connect(simulator.url, 'my-client')
    expect(clientId).toBe('my-client')
    expect(simulator.clientIds).toEqual(['my-client'])
    expect(await client.connect(simulator.url, 'my-client')).toBe('my-client')
    expect(simulator.openSockets).toBe(1)
    const gone = once(simulator, 'disconnection')
    client.disconnect(clientId)
    expect(await gone).toEqual(['my-client'])
    expect(client.clientIds).toEqual([])
  })

  it('makes up a clientId when none is given', async () => {
    const clientId = await sockets().connect(simulator.url)
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/)
    expect(simulator.clientIds).toEqual([clientId])
  })

  it('rejects with ComfyConnectionError when the socket is refused, and keeps nothing', async () => {
    simulator.refuseSockets(true)
    const client = sockets()
    expect(await failure(client.connect(simulator.url))).toBeInstanceOf(ComfyConnectionError)
    expect(client.clientIds).toEqual([])
  })

  it('refuses handlers before any connection', () => {
    expect(() => sockets().onProgress('p', () => undefined)).toThrow(/connect\(\)/)
  })
})

describe('ComfyUIWebSocketClient handlers', () => {
  it('delivers progress up to 100 and one completion, then drops the prompt', async () => {
    const client = sockets()
    const clientId = await client.connect(simulator.url)
    const promptId = await queuer(clientId).queueWorkflow(txt2imgWith(6))
    const { progress, ended } = follow(client, promptId)
    expect(client.promptIds).toEqual([promptId])
    const result = await ended
    expect(result).toMatchObject({ promptId, status: 'completed', method: 'websocket' })
    expect(progress.at(-1)).toBe(100)
    expect(progress.every((value, i) => value >= (progress[i - 1] ?? 0))).toBe(true)
    expect(client.promptIds).toEqual([])
  })

  it('completes a prompt whose handlers came after it ended, from history', async () => {
    // With the socket already open, `pod.track$` reads history only at its first stall check
    // (core gap, see the report): a short stallTimeoutMs keeps this test quick.
    const client = sockets({
      trackOptions: { progressThrottleMs: 0, pollIntervalMs: 20, stallTimeoutMs: 100 },
    })
    const clientId = await client.connect(simulator.url)
    const finished = once(simulator, 'promptFinished')
    const promptId = await queuer(clientId).queueWorkflow(tinyImage())
    await finished
    const result = await follow(client, promptId).ended
    expect(result).toMatchObject({ promptId, status: 'completed' })
    expect((result as ComfyUIJobResult).images).toHaveLength(1)
  })

  it('calls onError once with the execution error, then drops the prompt', async () => {
    simulator.failNode({ classType: 'KSampler', message: 'boom' })
    const client = sockets()
    const clientId = await client.connect(simulator.url)
    const promptId = await queuer(clientId).queueWorkflow(txt2imgWith(3))
    const errors: Error[] = []
    client.onError(promptId, (error) => errors.push(error))
    const ended = await follow(client, promptId).ended
    expect(ended).toBeInstanceOf(ComfyExecutionError)
    expect(errors).toEqual([ended])
    expect(client.promptIds).toEqual([])
  })

  it('reports an unknown prompt as lost', async () => {
    const client = sockets({
      trackOptions: { progressThrottleMs: 0, pollIntervalMs: 20, stallTimeoutMs: 100 },
    })
    await client.connect(simulator.url)
    expect(await follow(client, 'no-such-prompt').ended).toBeInstanceOf(ComfyPromptLostError)
  })

  it('keeps the stream, the other handlers and other prompts going when a handler throws', async () => {
    const thrown: [unknown, string | undefined][] = []
    const client = sockets({ onHandlerError: (error, promptId) => thrown.push([error, promptId]) })
    const clientId = await client.connect(simulator.url)
    const queue = queuer(clientId)
    const first = await queue.queueWorkflow(txt2imgWith(4))
    const second = await queue.queueWorkflow(txt2imgWith(4))
    client.onProgress(first, () => {
      throw new Error('progress handler bug')
    })
    client.onCompletion(first, () => {
      throw new Error('completion handler bug')
    })
    const a = follow(client, first)
    const b = follow(client, second)
    expect(await a.ended).toMatchObject({ status: 'completed' })
    expect(await b.ended).toMatchObject({ status: 'completed' })
    expect(a.progress.at(-1)).toBe(100)
    expect(b.progress.at(-1)).toBe(100)
    expect(thrown.every(([, promptId]) => promptId === first)).toBe(true)
    expect(thrown.map(([error]) => (error as Error).message)).toEqual([
      ...a.progress.map(() => 'progress handler bug'),
      'completion handler bug',
    ])
  })

  it('stops following a prompt when its last handler is removed', async () => {
    simulator.pause()
    const client = sockets()
    const clientId = await client.connect(simulator.url)
    const promptId = await queuer(clientId).queueWorkflow(tinyImage())
    const removeProgress = client.onProgress(promptId, () => undefined)
    const removeError = client.onError(promptId, () => undefined)
    removeProgress()
    expect(client.promptIds).toEqual([promptId])
    removeError()
    expect(client.promptIds).toEqual([])
  })

  it('drops the handlers of a connection that is disconnected, without calling them', async () => {
    simulator.pause()
    const client = sockets()
    const clientId = await client.connect(simulator.url)
    const promptId = await queuer(clientId).queueWorkflow(tinyImage())
    let calls = 0
    client.onCompletion(promptId, () => calls++)
    client.onError(promptId, () => calls++)
    await until(() => simulator.clientIds.length === 1)
    client.disconnect(clientId)
    expect(client.promptIds).toEqual([])
    simulator.resume()
    await once(simulator, 'promptFinished')
    expect(calls).toBe(0)
  })

  it('follows each prompt on the connection whose pod has it', async () => {
    const other = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
    extraSimulators.push(other)
    const client = sockets()
    const here = await client.connect(simulator.url)
    const there = await client.connect(other.url)
    const promptId = await queuer(there, other.url).queueWorkflow(txt2imgWith(3))
    const { ended, progress } = follow(client, promptId)
    expect(await ended).toMatchObject({ promptId, status: 'completed' })
    expect(progress.at(-1)).toBe(100)
    expect(simulator.historyPromptIds).toEqual([])
    expect(here).not.toBe(there)
  })
})

describe('ComfyUIWebSocketClient over many prompts', () => {
  it(
    'leaves no handler, map entry or extra socket after 1,000 prompts',
    { timeout: 60_000 },
    async () => {
      const client = sockets({
        trackOptions: { progressThrottleMs: 0, pollIntervalMs: 20, timeoutMs: 60_000 },
      })
      const clientId = await client.connect(simulator.url)
      const queue = queuer(clientId)
      let maxSockets = 0
      const noted = () => (maxSockets = Math.max(maxSockets, simulator.openSockets))
      simulator.on('promptFinished', noted)
      const total = 1000
      const batch = 25
      let completed = 0
      for (let start = 0; start < total; start += batch) {
        // Handlers registered while the prompts wait, as a caller does right after queueing.
        simulator.pause()
        const ids = await Promise.all(
          Array.from({ length: batch }, () => queue.queueWorkflow(tinyImage())),
        )
        const ends = ids.map((id) => follow(client, id).ended)
        expect(client.promptIds).toHaveLength(batch)
        simulator.resume()
        const results = await Promise.all(ends)
        completed += results.filter((result) => !(result instanceof Error)).length
        expect(client.promptIds).toEqual([])
      }
      expect(completed).toBe(total)
      expect(client.promptIds).toEqual([])
      // Inside: the pod's prompt routes are gone too (private fields, read for this proof only).
      const internals = client as unknown as {
        connections: Map<string, { pod: { hub: { routes: number } } }>
      }
      expect(internals.connections.get(clientId)?.pod.hub.routes).toBe(0)
      expect(maxSockets).toBe(1)
      expect(simulator.openSockets).toBe(1)
      const gone = once(simulator, 'disconnection')
      client.disconnect(clientId)
      await gone
      expect(simulator.openSockets).toBe(0)
      expect(client.clientIds).toEqual([])
    },
  )
})
