import type { WebSocketLike } from 'rxjs-websockets'

/** Creates the pod's WebSocket. The default uses `ws` and sends `headers` on the handshake. */
export type WebSocketFactory = (
  url: string,
  options: { readonly headers: Readonly<Record<string, string>> },
) => WebSocketLike & {
  binaryType?: string
  readonly readyState?: number
  ping?: () => void
  /** Drops the connection at once, without the close handshake a dead connection never ends. */
  terminate?: () => void
  /** `ws`'s events; the pod listens for `pong` to know the connection still carries bytes. */
  on?: (event: 'pong', listener: () => void) => unknown
  off?: (event: 'pong', listener: () => void) => unknown
}
