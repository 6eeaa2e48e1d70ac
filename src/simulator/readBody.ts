import type { IncomingMessage } from 'node:http'
import { PyException } from './python.js'

/** A request body over the upload limit: aiohttp answers 413. */
export class TooLarge extends Error {}

/** Reads a request body, throwing `TooLarge` as soon as it is over `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new TooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new TooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** `await request.json()`: anything unparseable raises, which aiohttp turns into a 500. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit)
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw new PyException('JSONDecodeError', 'Expecting value: line 1 column 1 (char 0)')
  }
}
