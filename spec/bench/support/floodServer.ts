import { createServer } from 'node:http'
import type { WebSocket } from 'ws'
import { clientSockets } from './clientSockets.js'
import { parentChannel } from './measure.js'

// A child process: a minimal ComfyUI front (POST /prompt, GET /queue, GET /history, /ws) that
// floods a client with `progress` frames at a given rate, for the latency benchmark. Frames go
// out in the batches a 1 ms timer allows (about 10 per batch at 10,000/s), each its own WebSocket
// message. Messages: → {type: 'flood', clientId, promptId, count, rate} ← {type: 'flooded'};
// ← {type: 'posted', clientId, promptId} for each POST /prompt; ← {type: 'ready', url}.

let number = 0

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!
  const answer = (body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  if (req.method === 'POST' && path === '/prompt') {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const { prompt_id, client_id } = JSON.parse(body) as { prompt_id: string; client_id: string }
      answer({ prompt_id, number: number++, node_errors: {} })
      parent.send({ type: 'posted', clientId: client_id, promptId: prompt_id })
    })
  } else if (path === '/queue') {
    answer({ queue_running: [], queue_pending: [] })
  } else {
    answer({})
  }
})
const sockets = clientSockets(server)

/** The recorded `progress` frame of ComfyUI 0.3.64, with another value, max and prompt. */
function progressFrame(promptId: string, value: number, max: number): string {
  return JSON.stringify({ type: 'progress', data: { value, max, prompt_id: promptId, node: '3' } })
}

function flood(socket: WebSocket, promptId: string, count: number, rate: number): Promise<void> {
  socket.send(JSON.stringify({ type: 'execution_start', data: { prompt_id: promptId } }))
  socket.send(
    JSON.stringify({
      type: 'executing',
      data: { node: '3', display_node: '3', prompt_id: promptId },
    }),
  )
  return new Promise((resolve) => {
    const start = performance.now()
    let sent = 0
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate))
      for (; sent < due; sent++) socket.send(progressFrame(promptId, sent + 1, count))
      if (sent >= count) {
        clearInterval(timer)
        resolve()
      }
    }, 1)
  })
}

const parent = parentChannel(async (message) => {
  if (message.type !== 'flood') return
  const { clientId, promptId, count, rate } = message as unknown as {
    clientId: string
    promptId: string
    count: number
    rate: number
  }
  const socket = sockets.get(clientId)
  if (socket === undefined) throw new Error(`no socket for ${clientId}`)
  await flood(socket, promptId, count, rate)
  parent.send({ type: 'flooded' })
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  parent.send({ type: 'ready', url: `http://127.0.0.1:${address.port}` })
})
