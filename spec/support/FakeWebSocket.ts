import type { WebSocketFactory } from '../../src/index.js'

/**
 * A WebSocket the test drives by hand, for the pod's time-based behaviour in virtual time (no
 * real socket can live in a TestScheduler). Network behaviour is tested over real sockets.
 */
export class FakeWebSocket {
  onopen: ((event: unknown) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onerror: ((event: { message?: string }) => void) | null = null
  binaryType = 'blob'
  readyState = 0
  readonly sent: unknown[] = []
  pings = 0
  closedByClient = false
  /** Whether the connection still carries bytes: a frozen one takes pings and never answers. */
  frozen = false
  private readonly pongListeners = new Set<() => void>()

  constructor(
    readonly url: string,
    readonly headers: Readonly<Record<string, string>>,
  ) {}

  send(data: unknown): void {
    this.sent.push(data)
  }

  /** Like a ComfyUI server behind a live connection, answers every ping with a pong. */
  ping(): void {
    this.pings++
    if (!this.frozen) for (const listener of this.pongListeners) listener()
  }

  on(_event: 'pong', listener: () => void): void {
    this.pongListeners.add(listener)
  }

  off(_event: 'pong', listener: () => void): void {
    this.pongListeners.delete(listener)
  }

  /** Listeners of `pong` still registered. */
  get pongListenerCount(): number {
    return this.pongListeners.size
  }

  /** Whether the client dropped the connection without the close handshake. */
  terminated = false

  terminate(): void {
    this.terminated = true
    this.readyState = 3
  }

  close(): void {
    this.closedByClient = true
    this.readyState = 3
  }

  /** The server accepts the connection. */
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  /** The server sends a frame. */
  receive(data: string | ArrayBuffer): void {
    this.onmessage?.({ data })
  }

  /** The server or the network ends the connection. */
  drop(code = 1006, reason = 'dropped'): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }

  /** The connection fails (refused, 403 on the upgrade, …). */
  fail(message: string): void {
    this.readyState = 3
    this.onerror?.({ message })
  }
}

/** A factory that records every socket it makes. */
export function fakeSockets(): { factory: WebSocketFactory; sockets: FakeWebSocket[] } {
  const sockets: FakeWebSocket[] = []
  const factory: WebSocketFactory = (url, { headers }) => {
    const socket = new FakeWebSocket(url, headers)
    sockets.push(socket)
    return socket
  }
  return { factory, sockets }
}
