import { against, Child, type Message, runIfMain, type Section, tick } from './support/measure.js'

// Issue 7, measurement 6: 10,000 concurrent SSE clients on one process, one update a second
// each: the server's CPU and heap, against a bare node:http server writing the same bytes on the
// same schedule. Server and clients run in two child processes; the clients' CPU is not counted.

const CLIENTS = Number(process.env['BENCH_SSE_CLIENTS'] ?? 10_000)
const WINDOW_MS = Number(process.env['BENCH_SSE_WINDOW_MS'] ?? 5_000)
const WARM_MS = 2_000

interface Measured extends Message {
  readonly type: 'measured'
  readonly clients: number
  readonly cpuMs: number
  readonly wallMs: number
  readonly events: number
  readonly bytes: number
  readonly heapBefore: number
  readonly heapDuring: number
  readonly rssBefore: number
  readonly rssDuring: number
}

async function serve(mode: 'library' | 'baseline'): Promise<Measured & { received: number }> {
  const server = new Child('support/sseServer.ts', [mode], ['--expose-gc'])
  let clients: Child | undefined
  try {
    const { url } = await server.next<{ type: 'ready'; url: string }>('ready')
    clients = new Child('support/sseClients.ts', [url, String(CLIENTS)])
    await clients.next('connected', 180_000)
    await tick(WARM_MS)
    const before = await clients.ask<{ type: 'count'; events: number }>({ type: 'count' }, 'count')
    const measured = await server.ask<Measured>({ type: 'measure', ms: WINDOW_MS }, 'measured')
    const after = await clients.ask<{ type: 'count'; events: number }>({ type: 'count' }, 'count')
    if (measured.clients !== CLIENTS) throw new Error(`${mode}: ${measured.clients} clients`)
    return { ...measured, received: after.events - before.events }
  } finally {
    await clients?.stop()
    await server.stop()
  }
}

export async function sseFanout(): Promise<Section> {
  const bare = await serve('baseline')
  const library = await serve('library')
  const cpuPerSecond = (m: Measured) => (m.cpuMs / m.wallMs) * 1000
  const heapPerClient = (m: Measured) => (m.heapDuring - m.heapBefore) / m.clients
  const rssPerClient = (m: Measured) => (m.rssDuring - m.rssBefore) / m.clients
  const updatesPerSecond = (m: Measured & { received: number }) => (m.received / m.wallMs) * 1000
  return {
    id: 'sse-fan-out',
    title: `6. SSE fan-out: ${CLIENTS.toLocaleString('en')} concurrent clients, one update a second each`,
    method:
      `An HTTP server in a child process streams to ${CLIENTS} clients in another child ` +
      'process; every 100 ms a tenth of them get an update. Library: toServerSentEvents over a ' +
      'JobEvent stream per client (default options). Baseline: node:http writing the same ' +
      `bytes by hand, with the same 15 s keepalive timer per client. CPU over ${WINDOW_MS} ms ` +
      'once all are connected; heap after full GCs, less the heap before the first client.',
    figures: [
      against('server CPU, ms per second', cpuPerSecond(library), 'ms', {
        label: 'bare node:http writes',
        value: cpuPerSecond(bare),
      }),
      against('server heap per client', heapPerClient(library), 'B', {
        label: 'bare node:http writes',
        value: heapPerClient(bare),
      }),
      against('server RSS per client', rssPerClient(library), 'B', {
        label: 'bare node:http writes',
        value: rssPerClient(bare),
      }),
      against('updates delivered per second', updatesPerSecond(library), '/s', {
        label: 'bare node:http writes',
        value: updatesPerSecond(bare),
      }),
    ],
    notes: [
      `Bytes written per second: library ${((library.bytes / library.wallMs) * 1000).toFixed(0)}, ` +
        `baseline ${((bare.bytes / bare.wallMs) * 1000).toFixed(0)}.`,
    ],
  }
}

runIfMain(import.meta.url, sseFanout)
