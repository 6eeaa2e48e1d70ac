import type { Observable } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { invalid } from '../internal/optionChecks.js'
import { EVENT_STREAM_HEADERS, EventStreamSession } from './eventStream.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import {
  resolveServerSentEventsOptions,
  type ServerSentEventsOptions,
} from './ServerSentEventsOptions.js'

/** Options of `toEventStreamResponse`. */
export interface EventStreamResponseOptions extends ServerSentEventsOptions {
  /**
   * The request being answered: its `Last-Event-ID` header is read, and its `signal` aborting
   * (the client went away) unsubscribes the job like a cancelled body does.
   * @default undefined
   */
  readonly request?: Request
  /**
   * How many bytes may wait in the response body's queue before the reader counts as slow (then
   * only the latest update waits).
   * @default 16384
   */
  readonly highWaterMark?: number
}

/**
 * Streams a job's progress as a Web `Response` of Server-Sent Events, for fetch-style servers
 * (Hono, Next.js route handlers, Bun, Deno). Same events as `toServerSentEvents`: named after the
 * status, JSON `data:`, increasing `id:`s, a final `completed` or `failed` event, then the end.
 * Cancelling the body (or aborting `request.signal`) unsubscribes the job at once; a slow reader
 * only ever has the latest update waiting.
 *
 * @example
 * ```ts
 * // app/api/progress/[promptId]/route.ts (Next.js)
 * import { ComfyPod, toEventStreamResponse } from 'comfyui-rx'
 *
 * const pod = new ComfyPod(process.env.COMFYUI_URL!)
 * export function GET(request: Request, { params }: { params: { promptId: string } }) {
 *   return toEventStreamResponse(pod.track$(params.promptId), { request })
 * }
 * // 200 text/event-stream: retry: 3000 · id: 1 · event: processing · data: {…}
 * ```
 * @param events$ - a job's events (`executeWorkflow$`, `track$`) or `ProgressUpdate`s
 * @param options - see `EventStreamResponseOptions`
 * @returns a 200 `Response` whose body is the event stream (the job is subscribed at once)
 * @throws TypeError for an invalid option
 */
export function toEventStreamResponse(
  events$: Observable<JobEvent | ProgressUpdate>,
  options: EventStreamResponseOptions = {},
): Response {
  const resolved = resolveServerSentEventsOptions(options)
  const { request, highWaterMark = 16_384 } = options
  if (typeof highWaterMark !== 'number' || !Number.isFinite(highWaterMark) || highWaterMark < 1)
    invalid('highWaterMark', highWaterMark, 'a number >= 1')
  if (request !== undefined && !(request instanceof Request))
    invalid('request', request, 'a Request')
  const lastEventId = resolved.lastEventId ?? request?.headers.get('last-event-id')
  const encoder = new TextEncoder()
  let session: EventStreamSession | undefined
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  // Set once the body is closed or cancelled: nothing may be enqueued or closed after that.
  let done = false
  const close = () => {
    if (done) return
    done = true
    request?.signal.removeEventListener('abort', onAbort)
    controller?.close()
  }
  const onAbort = () => {
    session?.disconnect()
    close()
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController
        session = new EventStreamSession(
          {
            write: (chunk) => {
              if (done) return true
              streamController.enqueue(encoder.encode(chunk))
              return (streamController.desiredSize ?? 0) > 0
            },
            end: close,
          },
          resolved,
          lastEventId,
        )
        if (request?.signal.aborted === true) return onAbort()
        request?.signal.addEventListener('abort', onAbort, { once: true })
        session.start(events$)
      },
      pull() {
        session?.drain()
      },
      cancel() {
        done = true
        request?.signal.removeEventListener('abort', onAbort)
        session?.disconnect()
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  )
  return new Response(body, {
    status: 200,
    headers: { ...EVENT_STREAM_HEADERS, ...resolved.headers },
  })
}
