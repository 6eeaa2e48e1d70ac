import {
  catchError,
  defer,
  EMPTY,
  map,
  merge,
  Observable,
  of,
  retry,
  switchMap,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs'
import * as rxjsWebsockets from 'rxjs-websockets'
import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { decodeFrameValue, isDecodeIssue, type PodMessage } from '../protocol/decodeFrame.js'
import type { ConnectionState } from './ConnectionState.js'
import type { SocketSettings } from './SocketSettings.js'
import type { PodAddress } from './podAddress.js'
import type { PodDiagnostic } from './PodDiagnostic.js'
import { keepAlive$ } from './keepAlive.js'
import { reconnectDelay } from './reconnectDelay.js'
import { redactUrl } from '../internal/redactUrl.js'

/** Where the socket pipeline reports what it does, and how it is told to start over. */
export interface SocketReport {
  state(state: ConnectionState): void
  diagnostic(diagnostic: PodDiagnostic): void
  /** Each emission drops the current socket and reconnects (a watchdog found it silent). */
  readonly reconnect$: Observable<unknown>
}

// rxjs-websockets is CommonJS with a default export: from ESM, Node hands over its whole exports.
const makeWebSocketObservable = ((rxjsWebsockets.default as unknown as { default?: unknown })
  .default ?? rxjsWebsockets.default) as unknown as typeof rxjsWebsockets.default.default

/** The client's first frame on every connection (§1.4). */
const HANDSHAKE = JSON.stringify({
  type: 'feature_flags',
  data: { supports_preview_metadata: true },
})

/**
 * The decoded messages of a pod's WebSocket, cold: each subscription opens a socket, sends the
 * feature-flags handshake, pings it when silent and replaces it when a ping goes unanswered
 * (`keepAlive$`), and reconnects with capped exponential backoff and jitter when
 * the socket fails or drops. Errors with `ComfyConnectionError` once the attempts are spent, and
 * with `ComfyAuthError` at once on a 401/403 upgrade (retrying would only storm the pod).
 */
export function podMessages$(
  address: PodAddress,
  options: SocketSettings,
  report: SocketReport,
): Observable<PodMessage> {
  const { webSocketFactory, connectTimeoutMs, pingIntervalMs, pongTimeoutMs, scheduler } = options
  const headers = { ...options.headers, ...address.headers }
  const url = redactUrl(address.wsUrl)
  // Attempts since the last open socket; each new life of the shared stream starts from 0.
  let attempt = 0
  // Frames received, counted where they are decoded: the keep-alive's sign of life.
  const received = { frames: 0 }

  const connection$ = defer(() => {
    attempt++
    const startedAt = scheduler.now()
    let socket: ReturnType<typeof webSocketFactory> | undefined
    report.state({ state: 'connecting', attempt })
    return makeWebSocketObservable<string | ArrayBuffer>(address.wsUrl, {
      protocols: [],
      makeWebSocket: (wsUrl) => {
        socket = webSocketFactory(wsUrl, { headers })
        socket.binaryType = 'arraybuffer'
        return socket
      },
    }).pipe(
      timeout({
        first: connectTimeoutMs,
        scheduler,
        with: () =>
          throwError(
            () =>
              new ComfyConnectionError(
                `${url} did not open within ${connectTimeoutMs} ms`,
                url,
                'timeout',
              ),
          ),
      }),
      switchMap((getResponses) => {
        const frames$ = getResponses(of(HANDSHAKE))
        attempt = 0
        report.state({ state: 'open', connectTimeMs: scheduler.now() - startedAt })
        const alive$ =
          socket === undefined
            ? EMPTY
            : keepAlive$(socket, {
                pingIntervalMs,
                pongTimeoutMs,
                scheduler,
                frames: () => received.frames,
                url,
              })
        const restart$ = report.reconnect$.pipe(
          map(() => {
            throw new ComfyConnectionError(`${url} was silent; reconnecting`, url, 'stalled')
          }),
        )
        return merge(frames$, alive$, restart$)
      }),
      catchError((error: unknown) => throwError(() => toConnectionError(error, url))),
    )
  })

  return defer(() => {
    attempt = 0
    return connection$.pipe(
      retry({
        count: options.maxReconnectAttempts,
        delay: (error: ComfyConnectionError | ComfyAuthError, retryCount) => {
          if (error instanceof ComfyAuthError) return throwError(() => error)
          // retryCount starts over once a socket opens and delivers (resetOnSuccess).
          const delayMs = reconnectDelay(
            retryCount,
            options.reconnectDelayMs,
            options.maxReconnectDelayMs,
            options.random,
          )
          report.diagnostic({ kind: 'connection_issue', url, reason: error.message, attempt })
          report.state({
            state: 'reconnecting',
            attempt: retryCount,
            delayMs,
            reason: error.reason,
          })
          return timer(delayMs, scheduler)
        },
        resetOnSuccess: true,
      }),
      tap({
        error: (error: ComfyConnectionError | ComfyAuthError) => {
          report.diagnostic({ kind: 'connection_issue', url, reason: error.message, attempt })
          report.state({
            state: 'failed',
            reason: error.message,
            code: error instanceof ComfyAuthError ? 'auth' : error.reason,
          })
        },
      }),
    )
  }).pipe(decodeFrames(report, received))
}

/** Decodes each frame; a bad one goes to the diagnostics instead. One operator, no `Either`. */
function decodeFrames(report: SocketReport, received: { frames: number }) {
  return (frames$: Observable<string | ArrayBuffer>): Observable<PodMessage> =>
    new Observable((subscriber) =>
      frames$.subscribe({
        next: (frame) => {
          received.frames++
          const decoded = decodeFrameValue(frame)
          if (isDecodeIssue(decoded)) report.diagnostic(decoded)
          else subscriber.next(decoded)
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    )
}

function toConnectionError(error: unknown, url: string): ComfyConnectionError | ComfyAuthError {
  if (error instanceof ComfyConnectionError) return error
  const message = error instanceof Error ? error.message : String(error)
  const status = /Unexpected server response: (\d+)/.exec(message)?.[1]
  if (status === '401' || status === '403')
    return new ComfyAuthError(url, Number(status), { cause: error })
  const reason =
    status !== undefined
      ? `http_${status}`
      : /ECONNREFUSED/.test(message)
        ? 'refused'
        : message === 'Normal closure' || message === ''
          ? 'closed'
          : 'error'
  const what = reason === 'closed' ? 'was closed by the pod' : `failed: ${message}`
  return new ComfyConnectionError(`${url} ${what}`, url, reason, { cause: error })
}
