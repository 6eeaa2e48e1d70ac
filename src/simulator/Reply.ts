import type { ServerResponse } from 'node:http'

// Answers as aiohttp writes them: JSON carries `application/json; charset=utf-8`, the "empty"
// answers are 200 with no body, an exception in a handler is a 500 with aiohttp's text.

/** An answer to an HTTP request, written once the request is handled. */
export type Reply = (res: ServerResponse) => void

export const json =
  (status: number, body: unknown): Reply =>
  (res) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    })
    res.end(text)
  }

export const text =
  (status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply =>
  (res) => {
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
    })
    res.end(body)
  }

export const empty: Reply = (res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 })
  res.end()
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request Entity Too Large',
}

/** aiohttp's answer to an HTTPException without a text: `404: Not Found`. */
export const status = (code: number): Reply =>
  text(code, `${code}: ${STATUS_TEXT[code] ?? 'Error'}`)

/** aiohttp's text for an exception in a handler. */
export const INTERNAL_ERROR_TEXT = '500 Internal Server Error\n\nServer got itself in trouble'

export const internalError = text(500, INTERNAL_ERROR_TEXT)
