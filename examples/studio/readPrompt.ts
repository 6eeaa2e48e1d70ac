import type { IncomingMessage } from 'node:http'

/** The largest body a generate request may have. */
const MAX_BODY_BYTES = 64 * 1024

/** A generate request's prompt, or the answer that refuses the request. */
export type PromptRequest =
  { readonly prompt: string } | { readonly status: 400 | 413; readonly error: string }

/**
 * Reads the body of `POST /api/image/generate`: JSON `{"prompt": "…"}` whose prompt is not blank.
 * Anything else is refused with a message, rather than queued as a job the caller did not mean.
 */
export async function readPrompt(req: IncomingMessage): Promise<PromptRequest> {
  const body = await readBody(req)
  if (body === undefined) return { status: 413, error: 'the body must be at most 64 KiB' }
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return { status: 400, error: 'the body must be JSON: {"prompt": "…"}' }
  }
  const prompt =
    typeof parsed === 'object' && parsed !== null
      ? (parsed as { prompt?: unknown }).prompt
      : undefined
  if (typeof prompt !== 'string' || prompt.trim() === '')
    return { status: 400, error: 'prompt must be a non-empty string' }
  return { prompt }
}

/** The body, or `undefined` when it is too large: read to its end, so that the answer arrives. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk)
    })
    req.once('end', () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks) : undefined))
    req.once('error', reject)
  })
}
