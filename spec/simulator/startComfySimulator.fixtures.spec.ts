import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startComfySimulator } from '../../src/simulator/index.js'
import type { ComfySimulator } from '../../src/simulator/index.js'
import {
  normalize,
  normalizeHistoryEntry,
  openSocket,
  readTrace,
  request,
  tracedMessages,
} from './simulatorTestKit.js'
import type { TraceLine } from './simulatorTestKit.js'
import type { TraceName } from '../support/traces.js'

// Replays each recorded scenario the way the recorder ran it (same clientId, no feature_flags
// frame, same prompt ids) and compares every text frame and the history entries with the trace.

interface HttpLine extends TraceLine {
  readonly method: string
  readonly path: string
  readonly req: Record<string, unknown> | null
  readonly status: number
  readonly resp: unknown
}

const httpLines = (trace: readonly TraceLine[]) =>
  trace.filter((l): l is HttpLine => l.dir === 'http')

let sim: ComfySimulator

beforeEach(async () => {
  sim = await startComfySimulator()
})

afterEach(async () => {
  await sim.close()
})

async function replay(name: TraceName) {
  const trace = readTrace(name)
  const open = trace.find((l) => l.dir === 'ws-event' && l['event'] === 'open') as TraceLine
  const socket = await openSocket(sim.wsUrl, { clientId: open['clientId'] as string })
  const history: { expected: unknown; actual: unknown }[] = []
  for (const post of httpLines(trace).filter((l) => l.method === 'POST' && l.path === '/prompt')) {
    const promptId = (post.resp as { prompt_id: string }).prompt_id
    const res = await request(sim, 'POST', '/prompt', { ...post.req, prompt_id: promptId })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ prompt_id: promptId, node_errors: {} })
    await socket.done(promptId)
    const recorded = httpLines(trace).find((l) => l.path === `/history/${promptId}`) as HttpLine
    const actual = await request(sim, 'GET', `/history/${promptId}`)
    history.push({
      expected: normalizeHistoryEntry((recorded.resp as Record<string, unknown>)[promptId]),
      actual: normalizeHistoryEntry((actual.body as Record<string, unknown>)[promptId]),
    })
  }
  await socket.close()
  return { trace, socket, history }
}

describe('startComfySimulator agrees with the recorded ComfyUI 0.3.64 traces', () => {
  it.each<TraceName>(['simple-success', 'progress', 'cached', 'execution-error'])(
    'sends the same text frames as the real server in %s',
    async (name) => {
      const { trace, socket } = await replay(name)
      const expected = tracedMessages(trace)
      expect(socket.messages.map((m) => m.type)).toEqual(expected.map((m) => m.type))
      expect(normalize(socket.messages)).toEqual(normalize(expected))
    },
  )

  it.each<TraceName>(['simple-success', 'progress', 'cached', 'execution-error'])(
    'writes the same history entries as the real server in %s',
    async (name) => {
      const { history } = await replay(name)
      expect(history.length).toBeGreaterThan(0)
      for (const { expected, actual } of history) expect(actual).toEqual(expected)
    },
  )

  it('answers every invalid prompt of validation-error with the same status and body', async () => {
    const trace = readTrace('validation-error')
    const open = trace.find((l) => l.dir === 'ws-event' && l['event'] === 'open') as TraceLine
    const socket = await openSocket(sim.wsUrl, { clientId: open['clientId'] as string })
    const posts = httpLines(trace).filter((l) => l.method === 'POST')
    expect(posts).toHaveLength(8)
    for (const post of posts) {
      const res = await request(sim, 'POST', post.path, post.req)
      expect({ label: post['label'], status: res.status }).toEqual({
        label: post['label'],
        status: post.status,
      })
      expect(normalize(res.body)).toEqual(normalize(post.resp))
    }
    const queue = await request(sim, 'GET', '/queue')
    expect(queue.body).toEqual({ queue_running: [], queue_pending: [] })
    expect(socket.messages.map((m) => m.type)).toEqual(tracedMessages(trace).map((m) => m.type))
    await socket.close()
  })

  it('serves /system_stats and /queue with the recorded shapes', async () => {
    const trace = readTrace('simple-success')
    const recorded = httpLines(trace).find((l) => l.path === '/system_stats') as HttpLine
    const res = await request(sim, 'GET', '/system_stats')
    const expected = recorded.resp as { system: object; devices: object[] }
    const actual = res.body as { system: Record<string, unknown>; devices: object[] }
    expect(res.contentType).toBe('application/json; charset=utf-8')
    expect(Object.keys(actual.system)).toEqual(Object.keys(expected.system))
    expect(Object.keys(actual.devices[0] ?? {})).toEqual(Object.keys(expected.devices[0] ?? {}))
    expect(actual.system['comfyui_version']).toBe('0.3.64')
    const queue = httpLines(trace).find((l) => l.path === '/queue') as HttpLine
    expect((await request(sim, 'GET', '/queue')).body).toEqual(queue.resp)
  })
})
