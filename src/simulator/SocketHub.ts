import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { RawData, WebSocket } from 'ws'

// server.py's socket registry (`self.sockets`, `self.sockets_metadata`) and send_json/send_bytes:
// per-client frames go to whichever socket is registered under the sid at send time and are
// dropped if none is; broadcasts go to every registered socket.

/** What a connecting socket is told about the server's current state. */
export interface ConnectState {
  readonly queueRemaining: number
  /** The display id of the node now executing, if the sid submitted the running prompt. */
  readonly executingNode: (sid: string) => string | undefined
}

/** The frames the server sends: JSON text frames and binary event frames. */
export class SocketHub {
  private readonly registry = new Map<string, WebSocket>()
  private readonly featureFlags = new Map<string, Record<string, unknown>>()
  /** Open sockets; `detached` ones belonged to a registry that a restart threw away. */
  private readonly sockets = new Map<WebSocket, { detached: boolean }>()
  /** While true nothing is sent to any socket (silent de-registration, as seen by clients). */
  silent = false

  constructor(
    private readonly serverFeatures: () => Record<string, unknown>,
    private readonly events: {
      readonly connected: (sid: string) => void
      readonly disconnected: (sid: string) => void
    },
  ) {}

  /** Open sockets, registered or not. */
  get openSockets(): number {
    return this.sockets.size
  }

  /** The sids in the registry. */
  get clientIds(): string[] {
    return [...this.registry.keys()]
  }

  /** Registers a freshly upgraded socket and sends it what ComfyUI sends on connect (§1.3). */
  accept(ws: WebSocket, request: IncomingMessage, state: ConnectState): void {
    const given = new URL(request.url ?? '/', 'http://localhost').searchParams.get('clientId')
    // A given id is reused as is; the older socket under it stays open but is no longer registered.
    const sid = given !== null && given !== '' ? given : randomUUID().replaceAll('-', '')
    this.registry.set(sid, ws)
    this.featureFlags.set(sid, {})
    const socketState = { detached: false }
    this.sockets.set(ws, socketState)
    ws.on('error', () => {})

    let firstMessage = true
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary || !firstMessage) return
      let parsed: unknown
      try {
        parsed = JSON.parse(rawText(data))
      } catch {
        return // logged as a warning by ComfyUI; negotiation stays open
      }
      // `data.get("type")` raises on a non-dict, which ComfyUI logs without closing negotiation.
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return
      const message = parsed as Record<string, unknown>
      if (message['type'] === 'feature_flags') {
        const flags = message['data']
        this.featureFlags.set(sid, typeof flags === 'object' && flags !== null ? { ...flags } : {})
        this.sendJson('feature_flags', this.serverFeatures(), sid)
      }
      firstMessage = false
    })

    ws.on('close', () => {
      this.sockets.delete(ws)
      // ComfyUI pops the sid, not this socket: a late close of an old socket de-registers the
      // newer one with the same clientId (§1.2) — reproduced on purpose.
      if (!socketState.detached) {
        this.registry.delete(sid)
        this.featureFlags.delete(sid)
      }
      this.events.disconnected(sid)
    })

    this.sendJson(
      'status',
      { status: { exec_info: { queue_remaining: state.queueRemaining } }, sid },
      sid,
    )
    const node = state.executingNode(sid)
    if (node !== undefined) this.sendJson('executing', { node }, sid)
    this.events.connected(sid)
  }

  /** Whether the socket registered under `sid` advertised `supports_preview_metadata: true`. */
  supportsPreviewMetadata(sid: string | null): boolean {
    return sid !== null && this.featureFlags.get(sid)?.['supports_preview_metadata'] === true
  }

  /** Sends `{type, data}` to the socket registered under `sid`, or to every socket for null. */
  sendJson(type: string, data: unknown, sid: string | null): void {
    this.send(JSON.stringify({ type, data }), sid)
  }

  /** Sends a binary frame: `u32be eventType` then the payload. */
  sendBinary(eventType: number, payload: Uint8Array, sid: string | null): void {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(eventType, 0)
    this.send(Buffer.concat([header, payload]), sid)
  }

  /** Sends raw bytes or text, ignoring silence, to every open socket or the one under `sid`. */
  sendRaw(data: string | Uint8Array, sid?: string): void {
    const targets = sid === undefined ? [...this.sockets.keys()] : [this.registry.get(sid)]
    for (const ws of targets) if (ws !== undefined) deliver(ws, data)
  }

  /** Closes every socket abruptly (no close frame), as a crashed server or a cut network does. */
  terminateAll(): void {
    for (const ws of this.sockets.keys()) ws.terminate()
  }

  /**
   * A restarted server: every socket is cut and the registry starts empty at once, so the late
   * close of a socket from before cannot de-register one that connected after.
   */
  reset(): void {
    for (const [ws, state] of this.sockets) {
      state.detached = true
      ws.terminate()
    }
    this.registry.clear()
    this.featureFlags.clear()
  }

  private send(frame: string | Buffer, sid: string | null): void {
    if (this.silent) return
    if (sid === null) {
      for (const ws of [...this.registry.values()]) deliver(ws, frame)
      return
    }
    const ws = this.registry.get(sid)
    if (ws !== undefined) deliver(ws, frame)
  }
}

// send_socket_catch_exception: a socket that went away mid-send is not the sender's problem.
function deliver(ws: WebSocket, frame: string | Uint8Array): void {
  if (ws.readyState !== ws.OPEN) return
  ws.send(frame, () => {})
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data as ArrayBuffer).toString('utf8')
}
