import { once } from 'node:events'
import { get, type IncomingMessage, type ServerResponse } from 'node:http'
import { BehaviorSubject, EMPTY, finalize, NEVER, type Observable, startWith, Subject } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyPod, type JobEvent, type Workflow } from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { toServerSentEvents } from '../../src/sse/toServerSentEvents.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }
import { done, processing } from './jobEvents.js'
import { allBlocks, readBlocks, startServer, updatesOf, type TestServer } from './sseClient.js'

const withSteps = (steps: number): Workflow => {
  const workflow = txt2img as Workflow
  return {
    ...workflow,
    '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, steps, seed: Math.random() } },
  }
}

let simulator: ComfySimulator | undefined
let pod: ComfyPod | undefined
let server: TestServer | undefined

afterEach(async () => {
  await server?.close()
  pod?.close()
  await simulator?.close()
  server = pod = simulator = undefined
})

/** Serves `events$()` as the event stream of every request. */
async function serve(
  events$: () => Observable<JobEvent | ProgressUpdate>,
  options: Parameters<typeof toServerSentEvents>[2] = {},
): Promise<string> {
  server = await startServer((_req, res) => {
    toServerSentEvents(events$(), res, options)
  })
  return server.url
}

function onceFinished(sim: ComfySimulator): Promise<[string, string]> {
  return new Promise((resolve) =>
    sim.once('promptFinished', (promptId, outcome) => resolve([promptId, outcome])),
  )
}

describe('toServerSentEvents with a pod', () => {
  beforeEach(async () => {
    simulator = await startComfySimulator({ stepDurationMs: 5, previews: false })
    pod = new ComfyPod(simulator.url, { idleCloseMs: 20 })
  })

  it('streams a job as named events with increasing ids, then ends the response', async () => {
    const url = await serve(() => pod!.executeWorkflow$(withSteps(8), { progressThrottleMs: 0 }))
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    const blocks = await allBlocks(response.body!)

    expect(blocks[0]).toEqual({ retry: '3000' })
    const events = blocks.slice(1)
    expect(events.map((block) => Number(block.id))).toEqual(events.map((_, i) => i + 1))
    const updates = updatesOf(events)
    expect(events.map((block) => block.event)).toEqual(updates.map((update) => update.status))
    expect(updates[0]?.status).toBe('queued')
    expect(updates.filter((update) => update.status === 'processing').length).toBeGreaterThan(2)
    const values = updates.map((update) => update.progress)
    expect(values.every((value, i) => i === 0 || value >= values[i - 1]!)).toBe(true)
    expect(updates.at(-1)).toMatchObject({ status: 'completed', progress: 100 })
    expect(updates.at(-1)?.images).toEqual([
      { filename: expect.stringMatching(/\.png$/), subfolder: '', type: 'output' },
    ])
  })

  it('ends a failed job with a failed event whose message is safe to show', async () => {
    simulator!.failNode({ classType: 'KSampler', afterSteps: 2, message: 'CUDA out of memory' })
    const url = await serve(() => pod!.executeWorkflow$(withSteps(8), { progressThrottleMs: 0 }))
    const blocks = await allBlocks((await fetch(url)).body!)
    const last = blocks.at(-1)!
    expect(last.event).toBe('failed')
    expect(JSON.parse(last.data!)).toMatchObject({
      status: 'failed',
      message: 'A step of the workflow failed on the server.',
      errorName: 'ComfyExecutionError',
    })
    expect(JSON.stringify(blocks)).not.toContain('CUDA')
  })

  it('cancels the prompt when the client disconnects, with cancelOnDisconnect', async () => {
    const url = await serve(
      () => pod!.executeWorkflow$(withSteps(200), { progressThrottleMs: 0 }),
      { cancelOnDisconnect: pod! },
    )
    const finished = onceFinished(simulator!)
    const abort = new AbortController()
    const response = await fetch(url, { signal: abort.signal })
    for await (const block of readBlocks(response.body!)) {
      if (block.event === 'processing' && JSON.parse(block.data!).progress > 0) break
    }
    abort.abort()
    expect((await finished)[1]).toBe('interrupted')
  })

  it('unsubscribes the job at once when the client disconnects, and lets the prompt run on', async () => {
    let unsubscribed!: () => void
    const gone = new Promise<void>((resolve) => (unsubscribed = resolve))
    const url = await serve(() =>
      pod!.executeWorkflow$(withSteps(300), { progressThrottleMs: 0 }).pipe(finalize(unsubscribed)),
    )
    const finished = onceFinished(simulator!)
    const abort = new AbortController()
    const response = await fetch(url, { signal: abort.signal })
    let promptId = ''
    for await (const block of readBlocks(response.body!)) {
      if (block.event === 'processing') {
        promptId = JSON.parse(block.data!).promptId
        break
      }
    }
    abort.abort()
    await gone
    expect(simulator!.runningPromptId).toBe(promptId)
    expect(await finished).toEqual([promptId, 'success'])
  })
})

describe('toServerSentEvents', () => {
  it("goes on from a reconnecting browser's Last-Event-ID with the latest state first", async () => {
    const latest = new BehaviorSubject<ProgressUpdate>(processing(60, 4))
    const url = await serve(() => latest)
    const response = await fetch(url, { headers: { 'last-event-id': '41' } })
    const blocks = readBlocks(response.body!)
    expect((await blocks.next()).value).toEqual({ retry: '3000' })
    expect((await blocks.next()).value).toEqual({
      id: '42',
      event: 'processing',
      data: JSON.stringify(processing(60, 4)),
    })
    latest.next(done)
    expect((await blocks.next()).value).toMatchObject({ id: '43', event: 'completed' })
    expect((await blocks.next()).done).toBe(true)
  })

  it('unsubscribes the source as soon as the client disconnects', async () => {
    let unsubscribed!: () => void
    const gone = new Promise<void>((resolve) => (unsubscribed = resolve))
    const url = await serve(() => NEVER.pipe(startWith(processing(10)), finalize(unsubscribed)))
    const abort = new AbortController()
    const response = await fetch(url, { signal: abort.signal })
    const blocks = readBlocks(response.body!)
    await blocks.next()
    await blocks.next()
    abort.abort()
    await gone
  })

  it('sends comment keepalives on a quiet stream', async () => {
    const url = await serve(() => NEVER, { keepAliveMs: 10 })
    const abort = new AbortController()
    const response = await fetch(url, { signal: abort.signal })
    const blocks = readBlocks(response.body!)
    expect((await blocks.next()).value).toEqual({ retry: '3000' })
    expect((await blocks.next()).value).toEqual({ comment: 'keepalive' })
    abort.abort()
  })

  it('ends the response without a final event when the server unsubscribes', async () => {
    let subscription: { unsubscribe(): void } | undefined
    server = await startServer((_req, res) => {
      subscription = toServerSentEvents(NEVER.pipe(startWith(processing(5))), res)
    })
    const response = await fetch(server.url)
    const blocks = readBlocks(response.body!)
    await blocks.next()
    expect((await blocks.next()).value).toMatchObject({ event: 'processing' })
    subscription!.unsubscribe()
    expect((await blocks.next()).done).toBe(true)
  })

  it('never buffers without bound for a slow reader: the latest state wins', async () => {
    const updates = new Subject<ProgressUpdate>()
    let serverSide!: (res: ServerResponse) => void
    const response = new Promise<ServerResponse>((resolve) => (serverSide = resolve))
    server = await startServer((_req, res) => {
      toServerSentEvents(updates, res, { keepAliveMs: Infinity })
      serverSide(res)
    })
    // A reader that reads nothing until told to.
    const client = await new Promise<IncomingMessage>((resolve) =>
      get(server!.url, (incoming) => {
        incoming.pause()
        resolve(incoming)
      }),
    )
    const res = await response

    // Until the response reports backpressure, every update is written.
    let sent = 0
    const next = () => updates.next(processing(++sent / 100_000))
    while (!res.writableNeedDrain && sent < 5_000_000) next()
    expect(res.writableNeedDrain).toBe(true)
    const written = sent
    const buffered = res.writableLength
    // Then none is: each one replaces the one before, and the buffer does not grow.
    for (let i = 0; i < 100_000; i++) next()
    expect(res.writableLength).toBe(buffered)
    // The final update takes the place of the one waiting, and ends the stream.
    updates.next(done)

    client.setEncoding('utf8')
    let text = ''
    client.on('data', (chunk: string) => (text += chunk))
    client.resume()
    await once(client, 'end')
    const received = updatesOf(text.split('\n\n').map((block) => parseData(block)))
    expect(received).toHaveLength(written + 1)
    expect(received.at(-2)).toEqual(processing(written / 100_000))
    expect(received.at(-1)).toEqual(done)
  })

  it('throws a TypeError naming an invalid option', () => {
    const res = {} as ServerResponse
    expect(() => toServerSentEvents(EMPTY, res, { keepAliveMs: 0 })).toThrow(
      new TypeError('keepAliveMs must be a number > 0 (Infinity for none), received 0'),
    )
    expect(() => toServerSentEvents(EMPTY, res, { retryMs: 1.5 })).toThrow(/^retryMs must be/)
    expect(() => toServerSentEvents(EMPTY, res, { throttleMs: -1 })).toThrow(/^throttleMs must/)
    expect(() => toServerSentEvents(EMPTY, res, { cancelOnDisconnect: {} as never })).toThrow(
      /^cancelOnDisconnect must be an object with cancel\(promptId\)/,
    )
  })
})

function parseData(block: string): { data?: string } {
  const line = block.split('\n').find((l) => l.startsWith('data: '))
  return line === undefined ? {} : { data: line.slice(6) }
}
