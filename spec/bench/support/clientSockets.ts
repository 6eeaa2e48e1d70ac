import type { Server } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * The `/ws` endpoint of a benchmark's pod server: each client's socket by its `clientId`, greeted
 * with a `status` as ComfyUI does, and forgotten once closed.
 */
export function clientSockets(server: Server): ReadonlyMap<string, WebSocket> {
  const sockets = new Map<string, WebSocket>()
  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('connection', (socket, req) => {
    const clientId = new URL(req.url ?? '/', 'http://x').searchParams.get('clientId') ?? ''
    sockets.set(clientId, socket)
    socket.on('close', () => sockets.delete(clientId))
    socket.send(
      JSON.stringify({
        type: 'status',
        data: { status: { exec_info: { queue_remaining: 0 } }, sid: clientId },
      }),
    )
  })
  return sockets
}
