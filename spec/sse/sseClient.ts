import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'

/** One block of an event stream, as a browser parses it. */
export interface StreamBlock {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly retry?: string
  readonly comment?: string
}

/** Parses event stream blocks from a body as they arrive. */
export async function* readBlocks(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamBlock> {
  const decoder = new TextDecoder()
  let text = ''
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
      let end: number
      while ((end = text.indexOf('\n\n')) !== -1) {
        yield parseBlock(text.slice(0, end))
        text = text.slice(end + 2)
      }
    }
  } finally {
    reader.releaseLock()
  }
}

export function parseBlock(block: string): StreamBlock {
  const fields: Record<string, string> = {}
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) fields['comment'] = line.slice(1).trim()
    else {
      const colon = line.indexOf(':')
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '')
    }
  }
  return fields
}

/** Every block of a whole stream (waits for its end). */
export async function allBlocks(body: ReadableStream<Uint8Array>): Promise<StreamBlock[]> {
  const blocks: StreamBlock[] = []
  for await (const block of readBlocks(body)) blocks.push(block)
  return blocks
}

/** The updates of the event blocks. */
export function updatesOf(blocks: readonly StreamBlock[]): ProgressUpdate[] {
  return blocks.flatMap((block) =>
    block.data === undefined ? [] : [JSON.parse(block.data) as ProgressUpdate],
  )
}

/** A node:http server on 127.0.0.1, port 0. */
export interface TestServer {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
