import { createServer, type ServerResponse } from 'node:http'
import { map, Subject } from 'rxjs'
import { type JobEvent, toServerSentEvents } from '../../../src/index.js'
import { cpuMs, parentChannel, settledHeap } from './measure.js'

// A child process: an SSE server where each client gets one update a second. argv: `library`
// (toServerSentEvents over a JobEvent stream per client) or `baseline` (node:http writing the
// same bytes by hand, with the same 15 s keepalive timer per client). Updates are spread over the
// second: every 100 ms one tenth of the clients get theirs. Run with --expose-gc.
// ← {type: 'ready', url}; → {type: 'measure', ms} ← {type: 'measured', …}.

const mode = process.argv[2] === 'library' ? 'library' : 'baseline'
const GROUPS = 10
const TICK_MS = 1000 / GROUPS
const KEEPALIVE_MS = 15_000
const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
}

let clients = 0
let written = 0
let bytes = 0
const heapBefore = await settledHeap()
const rssBefore = process.memoryUsage().rss

/** Counts what goes out, for both servers alike. */
function count(res: ServerResponse): void {
  const write = res.write.bind(res) as (chunk: string) => boolean
  res.write = ((chunk: string) => {
    if (chunk.startsWith('id: ')) written++
    bytes += chunk.length
    return write(chunk)
  }) as typeof res.write
}

const groups = Array.from({ length: GROUPS }, () => new Subject<number>())
interface BareClient {
  readonly res: ServerResponse
  readonly promptId: string
  nextId: number
}
const bareGroups = Array.from({ length: GROUPS }, () => new Set<BareClient>())

function progress(promptId: string, n: number): JobEvent {
  return {
    type: 'progress',
    promptId,
    source: 'websocket',
    progress: n,
    nodes: {},
    totalValue: n,
    totalMax: 100,
    estimatedTimeRemaining: 100 - n,
  }
}

const server = createServer((_req, res) => {
  const index = clients++
  const promptId = `prompt-${index.toString().padStart(5, '0')}-0000-0000-000000000000`
  const group = index % GROUPS
  count(res)
  res.on('close', () => clients--)
  if (mode === 'library') {
    toServerSentEvents(groups[group]!.pipe(map((n) => progress(promptId, n))), res)
    return
  }
  res.writeHead(200, HEADERS)
  res.flushHeaders()
  res.write('retry: 3000\n\n')
  const client: BareClient = { res, promptId, nextId: 1 }
  bareGroups[group]!.add(client)
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
  res.on('close', () => {
    clearInterval(keepalive)
    bareGroups[group]!.delete(client)
  })
})

let ticks = 0
const ticker = setInterval(() => {
  const group = ticks % GROUPS
  const n = Math.floor(ticks / GROUPS) + 1
  ticks++
  if (mode === 'library') {
    groups[group]!.next(n)
    return
  }
  for (const client of bareGroups[group]!) {
    const update = {
      promptId: client.promptId,
      status: 'processing',
      progress: n,
      estimatedTimeRemaining: 100 - n,
    }
    client.res.write(
      `id: ${client.nextId++}\nevent: processing\ndata: ${JSON.stringify(update)}\n\n`,
    )
  }
}, TICK_MS)

const parent = parentChannel(async (message) => {
  if (message.type !== 'measure') return
  const ms = Number(message['ms'])
  const heapDuring = await settledHeap()
  const rssDuring = process.memoryUsage().rss
  const startWritten = written
  const startBytes = bytes
  const startCpu = cpuMs()
  const start = performance.now()
  await new Promise((resolve) => setTimeout(resolve, ms))
  parent.send({
    type: 'measured',
    mode,
    clients,
    cpuMs: cpuMs() - startCpu,
    wallMs: performance.now() - start,
    events: written - startWritten,
    bytes: bytes - startBytes,
    heapBefore,
    heapDuring,
    rssBefore,
    rssDuring,
  })
})

server.maxConnections = 20_000
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  parent.send({ type: 'ready', url: `http://127.0.0.1:${address.port}` })
})
process.on('disconnect', () => clearInterval(ticker))
