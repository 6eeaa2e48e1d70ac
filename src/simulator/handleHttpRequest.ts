import type { IncomingMessage } from 'node:http'
import { fileRoutes } from './fileRoutes.js'
import { jobsRoutes } from './jobsRoutes.js'
import { promptRoutes } from './promptRoutes.js'
import { PyException } from './python.js'
import { TooLarge } from './readBody.js'
import { internalError, status, text } from './Reply.js'
import type { Reply } from './Reply.js'
import type { HttpContext, Route } from './Route.js'
import { serverInfoRoutes } from './serverInfoRoutes.js'

// server.py's routes (§5), in the order of its table.

const ROUTES: readonly Route[] = [...promptRoutes, ...fileRoutes, ...serverInfoRoutes]

const ROUTES_0_33: readonly Route[] = [...ROUTES, ...jobsRoutes]

/** A path without its `/api` prefix, under which server.py serves every route a second time. */
export const stripApi = (path: string): string =>
  path === '/api' ? '/' : path.startsWith('/api/') ? path.slice(4) : path

/**
 * Routes one HTTP request. Like aiohttp, the first route whose path and method match answers; a
 * path that matches with another method only is a 405. Every route is served as written and
 * again under `/api` (server.py add_routes), so the Jobs API, written `/api/jobs`, is not at
 * `/jobs`.
 */
export async function handleHttpRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  pathname: string,
  query: URLSearchParams,
): Promise<Reply> {
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
  const paths = [...new Set([pathname, stripApi(pathname)])]
  const matches = (ctx.version === '0.33' ? ROUTES_0_33 : ROUTES).flatMap(([pattern, handlers]) =>
    paths.flatMap((path) => {
      const match = pattern.exec(path)
      return match === null ? [] : [{ handler: handlers[method], match }]
    }),
  )
  if (matches.length === 0) return status(404)
  const found = matches.find(({ handler }) => handler !== undefined)
  if (found?.handler === undefined) return status(405)
  try {
    const param = decodeURIComponent(found.match[1] ?? '')
    return await found.handler({ ctx, req, query, param })
  } catch (error) {
    if (error instanceof TooLarge) {
      return text(413, `Maximum request body size ${ctx.maxUploadSize} exceeded`)
    }
    if (error instanceof PyException) return internalError
    throw error
  }
}
