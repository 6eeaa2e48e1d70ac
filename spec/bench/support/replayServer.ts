import { createServer } from 'node:http'
import { readTrace } from '../../support/traces.js'
import type { WebSocket } from 'ws'
import { clientSockets } from './clientSockets.js'
import { parentChannel } from './measure.js'

// A child process: a ComfyUI 0.3.64 front (POST /prompt, GET /queue, GET /history/{id}, /ws; no
// Jobs API) that runs the prompts queued on it one after another, as one ComfyUI runs them, each
// as the recorded frames of spec/fixtures/comfyui-0.3.64/progress.jsonl with its sampler's loop
// stretched to `steps` (a `progress` and a `progress_state` per step, as recorded), as fast as
// the client's socket takes them. Messages: → {type: 'run', steps} (runs what is queued)
// ← {type: 'ran', frames}; → {type: 'requests'} ← {type: 'requests', requests} (by method and
// path, since the last reset); → {type: 'reset'} ← {type: 'reset'}; ← {type: 'ready', url}.

const ID = '§PROMPT§'
const trace = readTrace('progress')
const recorded = trace.flatMap((entry) =>
  entry.dir === 'ws-in' && entry.frame === 'text' ? [entry.msg] : [],
)
const recordedId = (
  recorded.find((m) => m.type === 'execution_start')!.data as { prompt_id: string }
).prompt_id
const historyEntry = (
  trace.find((entry) => entry.dir === 'http' && entry.path.startsWith('/history/')) as {
    resp: Record<string, unknown>
  }
).resp[recordedId]
const template = (value: unknown): string => JSON.stringify(value).replaceAll(recordedId, ID)

/** Frames of one prompt: from `execution_start` to `executing {node: null}`. */
function promptFrames(steps: number): string[] {
  const start = recorded.findIndex((m) => m.type === 'execution_start')
  const end = recorded.findIndex(
    (m) => m.type === 'executing' && (m.data as { node: unknown }).node === null,
  )
  const run = recorded.slice(start, end + 1)
  const firstStep = run.findIndex((m) => m.type === 'progress')
  const lastStep = run.length - 1 - [...run].reverse().findIndex((m) => m.type === 'progress')
  const step = run[firstStep] as { data: { node: string } }
  const state = run[firstStep + 1] as { data: { nodes: Record<string, object> } }
  const loop: string[] = []
  for (let value = 1; value <= steps; value++) {
    loop.push(template({ ...step, data: { ...step.data, value, max: steps } }))
    const nodes = { ...state.data.nodes }
    nodes[step.data.node] = { ...nodes[step.data.node], value, max: steps }
    loop.push(template({ ...state, data: { ...state.data, nodes } }))
  }
  return [
    ...run.slice(0, firstStep).map(template),
    ...loop,
    ...run.slice(lastStep + 2).map(template),
  ]
}

interface Queued {
  readonly promptId: string
  readonly clientId: string
  readonly number: number
  readonly prompt: unknown
}

let queue: Queued[] = []
let history = new Map<string, unknown>()
let number = 0
let requests: Record<string, number> = {}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!
  const kind = `${req.method} ${path.startsWith('/history/') ? '/history/{id}' : path}`
  requests[kind] = (requests[kind] ?? 0) + 1
  const answer = (body: unknown, status = 200): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  if (req.method === 'POST' && path === '/prompt') {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const { prompt_id, client_id, prompt } = JSON.parse(body) as {
        prompt_id: string
        client_id: string
        prompt: unknown
      }
      const queued = { promptId: prompt_id, clientId: client_id, number: number++, prompt }
      queue.push(queued)
      answer({ prompt_id, number: queued.number, node_errors: {} })
    })
  } else if (path === '/queue') {
    // ComfyUI's shape: every queued prompt with its whole graph.
    const entry = (q: Queued) => [q.number, q.promptId, q.prompt, { client_id: q.clientId }, ['4']]
    answer({
      queue_running: queue.slice(0, 1).map(entry),
      queue_pending: queue.slice(1).map(entry),
    })
  } else if (path.startsWith('/history/')) {
    const id = decodeURIComponent(path.slice('/history/'.length))
    const entry = history.get(id)
    answer(entry === undefined ? {} : { [id]: entry })
  } else if (req.method === 'GET' && path === '/prompt') {
    answer({ exec_info: { queue_remaining: queue.length } })
  } else {
    answer({ error: 'not found' }, 404)
  }
})
// 10,000 POSTs at once keep connections waiting for seconds: none is closed under a client that
// reuses it.
server.keepAliveTimeout = 600_000
server.headersTimeout = 0
server.requestTimeout = 0
const sockets = clientSockets(server)

const BATCH = 256

/** Sends `frames`, a batch at a time, each batch once the one before has reached the kernel. */
async function send(socket: WebSocket, frames: readonly string[]): Promise<void> {
  for (let i = 0; i < frames.length; i += BATCH) {
    const last = Math.min(frames.length, i + BATCH) - 1
    for (let k = i; k < last; k++) socket.send(frames[k]!)
    await new Promise<void>((resolve, reject) =>
      socket.send(frames[last]!, (error) => (error ? reject(error) : resolve())),
    )
  }
}

/** Runs every queued prompt, one after another; the frames sent. */
async function run(steps: number): Promise<number> {
  const frames = promptFrames(steps)
  const outputs = historyEntry as object
  let sent = 0
  while (queue.length > 0) {
    const prompt = queue[0]!
    const socket = sockets.get(prompt.clientId)
    if (socket === undefined) throw new Error(`no socket for ${prompt.clientId}`)
    const own = frames.map((frame) => frame.replaceAll(ID, prompt.promptId))
    // History has the prompt before its socket's last word, as in ComfyUI.
    const last = own.pop()!
    await send(socket, own)
    history.set(prompt.promptId, outputs)
    queue.shift()
    await send(socket, [last])
    sent += own.length + 1
  }
  return sent
}

const parent = parentChannel(async (message) => {
  if (message.type === 'run') {
    const frames = await run(message['steps'] as number)
    parent.send({ type: 'ran', frames })
  } else if (message.type === 'requests') {
    parent.send({ type: 'requests', requests })
  } else if (message.type === 'reset') {
    queue = []
    history = new Map()
    requests = {}
    parent.send({ type: 'reset' })
  }
})

server.listen({ port: 0, host: '127.0.0.1', backlog: 16_384 }, () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  parent.send({ type: 'ready', url: `http://127.0.0.1:${address.port}` })
})
