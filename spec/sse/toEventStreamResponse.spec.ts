import type { ServerResponse } from 'node:http'
import { BehaviorSubject, EMPTY, finalize, NEVER, Subject, startWith } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { toEventStreamResponse } from '../../src/sse/toEventStreamResponse.js'
import { done, processing } from './jobEvents.js'
import { allBlocks, readBlocks, startServer, updatesOf, type TestServer } from './sseClient.js'

let server: TestServer | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
})

/** Writes a Web Response to a Node one, as fetch-style server adapters (Hono's) do. */
async function send(response: Response, res: ServerResponse): Promise<void> {
  response.headers.forEach((value, name) => res.setHeader(name, value))
  res.writeHead(response.status)
  const reader = response.body!.getReader()
  res.on('close', () => void reader.cancel().catch(() => undefined))
  for (;;) {
    const { done: ended, value } = await reader
      .read()
      .catch(() => ({ done: true, value: undefined }))
    if (ended) break
    if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve))
  }
  res.end()
}

describe('toEventStreamResponse', () => {
  it('answers a Web Response of named events with increasing ids that ends after the final one', async () => {
    const updates = new BehaviorSubject<ProgressUpdate>(processing(10))
    server = await startServer((_req, res) => void send(toEventStreamResponse(updates), res))
    const response = await fetch(server.url)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const blocks = readBlocks(response.body!)
    expect((await blocks.next()).value).toEqual({ retry: '3000' })
    expect((await blocks.next()).value).toMatchObject({ id: '1', event: 'processing' })
    updates.next(processing(50, 2))
    updates.next(done)
    const rest: unknown[] = []
    for await (const block of blocks) rest.push(block)
    expect(rest).toEqual([
      { id: '2', event: 'processing', data: JSON.stringify(processing(50, 2)) },
      { id: '3', event: 'completed', data: JSON.stringify(done) },
    ])
  })

  it("reads the request's Last-Event-ID and takes extra headers", async () => {
    const request = new Request('http://studio/progress', { headers: { 'last-event-id': '9' } })
    const response = toEventStreamResponse(new BehaviorSubject(done), {
      request,
      headers: { 'access-control-allow-origin': '*' },
    })
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    const blocks = await allBlocks(response.body!)
    expect(blocks.slice(1)).toEqual([{ id: '10', event: 'completed', data: JSON.stringify(done) }])
  })

  it('unsubscribes the source when the client disconnects (the body is cancelled)', async () => {
    let unsubscribed!: () => void
    const gone = new Promise<void>((resolve) => (unsubscribed = resolve))
    const source = NEVER.pipe(startWith(processing(10)), finalize(unsubscribed))
    server = await startServer((_req, res) => void send(toEventStreamResponse(source), res))
    const abort = new AbortController()
    const response = await fetch(server.url, { signal: abort.signal })
    const blocks = readBlocks(response.body!)
    await blocks.next()
    await blocks.next()
    abort.abort()
    await gone
  })

  it("unsubscribes the source, cancels the prompt and ends the body when the request's signal aborts", async () => {
    let unsubscribed = 0
    const cancelled: string[] = []
    const abort = new AbortController()
    const request = new Request('http://studio/progress', { signal: abort.signal })
    const response = toEventStreamResponse(
      NEVER.pipe(
        startWith(processing(10)),
        finalize(() => unsubscribed++),
      ),
      { request, cancelOnDisconnect: { cancel: (id: string) => void cancelled.push(id) } },
    )
    const blocks = readBlocks(response.body!)
    await blocks.next()
    await blocks.next()
    abort.abort()
    expect(unsubscribed).toBe(1)
    expect((await blocks.next()).done).toBe(true)
    expect(cancelled).toEqual([processing(10).promptId])
  })

  it('does not subscribe for a request already aborted', async () => {
    let subscribed = 0
    const request = new Request('http://studio/progress', { signal: AbortSignal.abort() })
    const response = toEventStreamResponse(NEVER.pipe(finalize(() => subscribed++)), { request })
    expect(await allBlocks(response.body!)).toEqual([])
    expect(subscribed).toBe(0)
  })

  it('keeps only the latest update waiting for a reader that does not read', async () => {
    const updates = new Subject<ProgressUpdate>()
    const response = toEventStreamResponse(updates, { highWaterMark: 1024, keepAliveMs: Infinity })
    for (let i = 1; i <= 50_000; i++) updates.next(processing(i / 1000))
    updates.next(done)
    const chunks: Uint8Array[] = []
    const reader = response.body!.getReader()
    for (let read = await reader.read(); !read.done; read = await reader.read())
      chunks.push(read.value)
    const text = new TextDecoder().decode(Buffer.concat(chunks))
    // The queue filled up to the high-water mark, then only the final update was added.
    expect(text.length).toBeLessThan(1024 + 2 * 256)
    const received = updatesOf(
      text.split('\n\n').flatMap((block) => {
        const line = block.split('\n').find((l) => l.startsWith('data: '))
        return line === undefined ? [] : [{ data: line.slice(6) }]
      }),
    )
    expect(received.at(-1)).toEqual(done)
    expect(received.length).toBeLessThan(20)
  })

  it('throws a TypeError naming an invalid option', () => {
    expect(() => toEventStreamResponse(EMPTY, { highWaterMark: 0 })).toThrow(
      new TypeError('highWaterMark must be a number >= 1, received 0'),
    )
    expect(() => toEventStreamResponse(EMPTY, { request: {} as Request })).toThrow(
      /^request must be a Request/,
    )
    expect(() => toEventStreamResponse(EMPTY, { lastEventId: 7 as never })).toThrow(
      /^lastEventId must be a string/,
    )
  })
})
