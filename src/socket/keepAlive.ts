import { Observable, type SchedulerAction, type SchedulerLike } from 'rxjs'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import type { WebSocketFactory } from './WebSocketFactory.js'

/** A check that runs this much later than it was due ran late because the process was busy. */
const LATE_MS = 1_000

/** What the keep-alive needs: the timing options and how to count what the socket brought. */
export interface KeepAliveOptions {
  readonly pingIntervalMs: number
  readonly pongTimeoutMs: number
  readonly scheduler: SchedulerLike
  /** Frames received so far on this connection. */
  readonly frames: () => number
  /** The socket's URL, redacted, for the error. */
  readonly url: string
}

/**
 * Pings a connection that has carried nothing for `pingIntervalMs`, and errors with
 * `ComfyConnectionError` (reason `stalled`) when nothing — the pong or any frame — comes within
 * `pongTimeoutMs` of the ping: TCP is open but nothing is forwarded (a frozen proxy or NAT entry).
 * A pod that is merely quiet answers the pings. A frame costs nothing here: the check compares
 * the frame count with the last one it saw. Sockets that cannot report pongs are only pinged.
 */
export function keepAlive$(
  socket: ReturnType<WebSocketFactory>,
  { pingIntervalMs, pongTimeoutMs, scheduler, frames, url }: KeepAliveOptions,
): Observable<never> {
  return new Observable<never>((subscriber) => {
    let pongs = 0
    const onPong = (): void => void pongs++
    const hearsPongs = typeof socket.on === 'function'
    if (hearsPongs) socket.on?.('pong', onPong)
    let seen = frames()
    let pingedAt: number | undefined
    // One action rescheduling itself: a single timer for the connection's life.
    const check = scheduler.schedule(function (this: SchedulerAction<undefined>) {
      const heard = frames() + pongs
      const now = scheduler.now()
      if (heard !== seen) {
        seen = heard
        pingedAt = undefined
        this.schedule(undefined, pingIntervalMs)
        return
      }
      if (pingedAt === undefined) {
        // Silent for a whole interval: ask.
        if (socket.readyState === 1 && socket.ping !== undefined) {
          socket.ping()
          if (hearsPongs) pingedAt = now
        }
        this.schedule(undefined, pingedAt === undefined ? pingIntervalMs : pongTimeoutMs)
        return
      }
      if (now - pingedAt > pongTimeoutMs + LATE_MS) {
        // The process was too busy to read the answer; it may be waiting. One more turn.
        pingedAt = now - pongTimeoutMs
        this.schedule(undefined, 1)
        return
      }
      // Not `close()`: its handshake would wait 30 s on a connection that forwards nothing.
      socket.terminate?.()
      subscriber.error(
        new ComfyConnectionError(
          `${url} did not answer a ping within ${pongTimeoutMs} ms; reconnecting`,
          url,
          'stalled',
        ),
      )
    }, pingIntervalMs)
    return () => {
      check.unsubscribe()
      if (hearsPongs) socket.off?.('pong', onPong)
    }
  })
}
