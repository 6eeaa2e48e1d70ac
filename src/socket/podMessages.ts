import {
  catchError,
  defer,
  EMPTY,
  filter,
  ignoreElements,
  map,
  merge,
  Observable,
  of,
  retry,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs'
import * as rxjsWebsockets from 'rxjs-websockets'
import type { WebSocketLike } from 'rxjs-websockets'
import { WebSocket } from 'ws'
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
  /** Emits when the pod is closed: the messages end (complete). */
  readonly closed$: Observable<unknown>
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
  return new Observable<PodMessage>((subscriber) => {
    // Frames received, counted where they are decoded: the keep-alive's sign of life.
    let received = 0
    const deliver = (frame: string | ArrayBuffer): void => {
      received++
      const decoded = decodeFrameValue(frame)
      if (isDecodeIssue(decoded)) report.diagnostic(decoded)
      else subscriber.next(decoded)
    }
    const closed = (reason: 'idle' | 'pod closed') => () =>
      report.state({ state: 'closed', reason })
    // No frame passes through these operators: they see the socket's life, not its messages.
    return connections$(address, options, report, deliver, () => received)
      .pipe(
        ignoreElements(),
        takeUntil(report.closed$),
        tap({ complete: closed('pod closed'), unsubscribe: closed('idle') }),
      )
      .subscribe({
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      })
  })
}

/**
 * The socket's life, one connection after another. Each frame goes straight to `deliver`, not
 * through the operators of the connection (a call per frame, not a pass through each of them);
 * what they see of a connection is its first frame, which starts the count of attempts over.
 */
function connections$(
  address: PodAddress,
  options: SocketSettings,
  report: SocketReport,
  deliver: (frame: string | ArrayBuffer) => void,
  received: () => number,
): Observable<void> {
  const { webSocketFactory, connectTimeoutMs, pingIntervalMs, pongTimeoutMs, scheduler } = options
  const headers = { ...options.headers, ...address.headers }
  const url = redactUrl(address.wsUrl)
  // Attempts since the last open socket.
  let attempt = 0

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
        return socket instanceof WebSocket ? withoutMessageEvents(socket) : socket
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
        const responses$ = getResponses(of(HANDSHAKE))
        attempt = 0
        report.state({ state: 'open', connectTimeMs: scheduler.now() - startedAt })
        const frames$ =
          socket instanceof WebSocket
            ? deliverWsFrames$(socket, deliver)
            : deliverFrames$(responses$, deliver)
        const alive$ =
          socket === undefined
            ? EMPTY
            : keepAlive$(socket, {
                pingIntervalMs,
                pongTimeoutMs,
                scheduler,
                frames: received,
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
}

/**
 * The frames rxjs-websockets hands over (any `WebSocketLike` a factory made), to `deliver`;
 * emits once, at the first.
 */
function deliverFrames$(
  frames$: Observable<string | ArrayBuffer>,
  deliver: (frame: string | ArrayBuffer) => void,
): Observable<void> {
  return frames$.pipe(
    tap(deliver),
    filter((_, index) => index === 0),
    map(() => undefined),
  )
}

/**
 * The frames of a `ws` socket, from its own `message` event to `deliver`, while subscribed: ws
 * builds no `MessageEvent` per frame for them, and rxjs-websockets' `Subject` does not relay
 * them. Emits once, at the first.
 */
function deliverWsFrames$(
  socket: WebSocket,
  deliver: (frame: string | ArrayBuffer) => void,
): Observable<void> {
  return new Observable<void>((subscriber) => {
    let first = true
    // Binary frames come as ArrayBuffer (binaryType), text ones as a Buffer of UTF-8.
    const onMessage = (data: Buffer | ArrayBuffer, isBinary: boolean): void => {
      deliver(isBinary ? (data as ArrayBuffer) : data.toString())
      if (first) {
        first = false
        subscriber.next()
      }
    }
    socket.on('message', onMessage)
    return () => socket.off('message', onMessage)
  })
}

/**
 * What rxjs-websockets gets of a `ws` socket: its events but `message`, whose frames
 * `deliverWsFrames$` takes straight from ws.
 */
function withoutMessageEvents(socket: WebSocket): WebSocketLike {
  return {
    send: (data) => socket.send(data as string),
    close: () => socket.close(),
    set onopen(listener: WebSocketLike['onopen']) {
      socket.onopen = listener
    },
    set onclose(listener: WebSocketLike['onclose']) {
      socket.onclose = listener
    },
    set onerror(listener: WebSocketLike['onerror']) {
      socket.onerror = listener
    },
    set onmessage(_listener: WebSocketLike['onmessage']) {},
  } as WebSocketLike
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
