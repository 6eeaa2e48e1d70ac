import type { IncomingMessage, ServerResponse } from 'node:http'

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '::1' ||
    hostname === '[::1]' ||
    hostname.startsWith('127.')
  )
}

/**
 * Which origins server.py lets in: with `--enable-cors-header`, every one, answered with CORS
 * headers; without it, none whose Origin differs from a loopback Host.
 */
export class OriginPolicy {
  /** @param corsOrigin the `enableCorsHeader` option */
  constructor(private readonly corsOrigin: string | undefined) {}

  /**
   * Adds the CORS headers to an HTTP answer and answers the request itself when it is a CORS
   * preflight or comes from a refused origin.
   *
   * @returns whether the request is answered
   */
  screen(method: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (this.corsOrigin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', this.corsOrigin)
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, DELETE, PUT, OPTIONS, PATCH')
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization')
      res.setHeader('Access-Control-Allow-Credentials', 'true')
      if (method === 'OPTIONS') {
        res.writeHead(200).end()
        return true
      }
    }
    if (this.rejects(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end('403: Forbidden')
      return true
    }
    return false
  }

  /**
   * server.py create_origin_only_middleware: whether a request (HTTP or a WebSocket upgrade) is
   * refused, because its Host is a loopback one and its Origin differs.
   */
  rejects(req: IncomingMessage): boolean {
    if (this.corsOrigin !== undefined) return false
    const host = req.headers.host
    const origin = req.headers.origin
    if (host === undefined || origin === undefined) return false
    let originUrl: URL
    let hostUrl: URL
    try {
      originUrl = new URL(origin)
      hostUrl = new URL(`http://${host}`)
    } catch {
      return false
    }
    let hostDomain = host.toLowerCase()
    let originDomain = originUrl.host.toLowerCase()
    if (originUrl.port === '') hostDomain = hostUrl.hostname
    if (hostUrl.port === '') originDomain = originUrl.hostname
    return (
      isLoopback(hostUrl.hostname) &&
      hostDomain !== '' &&
      originDomain !== '' &&
      hostDomain !== originDomain
    )
  }
}
