import type { ServerResponse } from 'node:http'
import { type Observable, Subscription } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { EVENT_STREAM_HEADERS, EventStreamSession } from './eventStream.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import {
  resolveServerSentEventsOptions,
  type ServerSentEventsOptions,
} from './ServerSentEventsOptions.js'

/**
 * Streams a job's progress to a browser as Server-Sent Events over a Node `ServerResponse`
 * (node:http, Express, Fastify's `reply.raw` after `reply.hijack()`). Each update is an event
 * named after its status (`queued`, `processing`, `completed`, `failed`) with the
 * `ProgressUpdate` as JSON `data:` and an increasing `id:`; the final one (`completed`, or
 * `failed` with a user-safe message) ends the response. A `retry:` hint comes first, comment
 * keepalives every `keepAliveMs`.
 *
 * A client that disconnects is unsubscribed at once (and its prompt cancelled with
 * `cancelOnDisconnect`). A slow reader never makes the server buffer without bound: while the
 * socket is full, only the latest update waits. A reconnecting browser's `Last-Event-ID` is read
 * from the request: ids go on from it, and it gets the latest state first — give a source that
 * starts with it (`pod.track$(promptId)`, or a stream that replays the latest update).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { ComfyPod, toServerSentEvents } from 'comfyui-rx'
 *
 * const pod = new ComfyPod('http://127.0.0.1:8188')
 * createServer((req, res) => {
 *   const promptId = new URL(req.url!, 'http://x').searchParams.get('promptId')!
 *   toServerSentEvents(pod.track$(promptId, { progressThrottleMs: 250 }), res)
 * }).listen(3000)
 * // id: 1 · event: processing · data: {"promptId":"…","status":"processing","progress":45,…}
 * ```
 * @param events$ - a job's events (`executeWorkflow$`, `track$`) or `ProgressUpdate`s
 * @param res - the response; its status and headers are written here
 * @param options - see `ServerSentEventsOptions`
 * @returns a Subscription; unsubscribing ends the response without a final event
 * @throws TypeError for an invalid option
 */
export function toServerSentEvents(
  events$: Observable<JobEvent | ProgressUpdate>,
  res: ServerResponse,
  options: ServerSentEventsOptions = {},
): Subscription {
  const resolved = resolveServerSentEventsOptions(options)
  const header = res.req?.headers['last-event-id']
  const lastEventId = resolved.lastEventId ?? (typeof header === 'string' ? header : undefined)
  // Express's compression middleware buffers until flush(); an event stream must not wait.
  const flush = (res as { flush?: () => void }).flush
  const session = new EventStreamSession(
    {
      write: (chunk) => {
        if (res.destroyed || res.writableEnded) return true
        const ok = res.write(chunk)
        if (typeof flush === 'function') flush.call(res)
        return ok
      },
      end: () => {
        if (!res.destroyed && !res.writableEnded) res.end()
      },
    },
    resolved,
    lastEventId,
  )
  const onDrain = () => session.drain()
  const detach = () => {
    res.off('drain', onDrain)
    res.off('close', onClose)
  }
  const onClose = () => {
    detach()
    session.disconnect()
  }
  if (res.destroyed) {
    session.disconnect()
    return Subscription.EMPTY
  }
  res.writeHead(200, {
    ...EVENT_STREAM_HEADERS,
    connection: 'keep-alive',
    ...resolved.headers,
  })
  res.flushHeaders()
  res.on('drain', onDrain)
  res.on('close', onClose)
  res.once('finish', detach)
  session.start(events$)
  return new Subscription(() => {
    session.stop()
    detach()
  })
}
