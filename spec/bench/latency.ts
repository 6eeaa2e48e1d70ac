import type { Socket } from 'node:net'
import type { Subscription } from 'rxjs'
import { WebSocket } from 'ws'
import { ComfyPod, type WebSocketFactory } from '../../src/index.js'
import { WORKFLOW } from './harness.js'
import {
  against,
  Child,
  median,
  percentile,
  runIfMain,
  type Section,
  tick,
} from './support/measure.js'

// Issue 7, measurement 4: latency from a frame's arrival to the subscriber's callback,
// unthrottled (progressThrottleMs 0), at 10,000 messages/s over a real socket from a server in a
// child process. A frame "arrives" when the TCP chunk that holds it is read (so a frame also
// waits for the frames before it in the same chunk). Baseline: a bare `ws` client on the same
// server doing JSON.parse and calling its callback, measured in alternation with the library.

const RATE = 10_000
const FRAMES = Number(process.env['BENCH_LATENCY_FRAMES'] ?? 20_000)
const ROUNDS = 2
const TARGET_P99_MS = 1

interface Stamps {
  /** Per message received on the socket: when its TCP chunk was read, and when ws emitted it. */
  readonly chunkAt: number[]
  readonly messageAt: number[]
}

/** A `ws` WebSocket that stamps every message's arrival before anyone else hears of it. */
function stampedSocket(url: string, headers: Record<string, string>, stamps: Stamps): WebSocket {
  const socket = new WebSocket(url, { headers, maxPayload: 256 * 1024 * 1024 })
  let chunkAt = 0
  socket.once('open', () => {
    // ws keeps its net.Socket in `_socket`: reaching in is the only way to see a chunk arrive.
    const raw = (socket as unknown as { _socket: Socket })._socket
    raw.prependListener('data', () => (chunkAt = performance.now()))
  })
  // Registered before the client's own handler, so it runs first.
  socket.on('message', () => {
    stamps.chunkAt.push(chunkAt)
    stamps.messageAt.push(performance.now())
  })
  return socket
}

interface Latencies {
  fromChunk: number[]
  fromMessage: number[]
}

/** Floods one prompt; `onValue(k)` is called by the client when it hears progress value k. */
async function floodRound(
  server: Child,
  clientId: string,
  promptId: string,
  stamps: Stamps,
  latencies: Latencies,
  subscribe: (onValue: (value: number) => void) => () => void,
): Promise<number> {
  // execution_start and executing come first, then progress 1…FRAMES.
  const offset = stamps.chunkAt.length + 1
  let heard = 0
  const stop = subscribe((value) => {
    const now = performance.now()
    latencies.fromChunk.push(now - stamps.chunkAt[offset + value]!)
    latencies.fromMessage.push(now - stamps.messageAt[offset + value]!)
    heard++
  })
  await server.ask({ type: 'flood', clientId, promptId, count: FRAMES, rate: RATE }, 'flooded')
  await tick(50)
  stop()
  return heard
}

export async function latency(): Promise<Section> {
  const server = new Child('support/floodServer.ts')
  const bareStamps: Stamps = { chunkAt: [], messageAt: [] }
  const podStamps: Stamps = { chunkAt: [], messageAt: [] }
  const factory: WebSocketFactory = (url, { headers }) =>
    stampedSocket(url, { ...headers }, podStamps) as unknown as ReturnType<WebSocketFactory>
  let pod: ComfyPod | undefined
  let bare: WebSocket | undefined
  try {
    const { url } = await server.next<{ type: 'ready'; url: string }>('ready')
    pod = new ComfyPod(url, { webSocketFactory: factory })
    bare = stampedSocket(`${url.replace(/^http/, 'ws')}/ws?clientId=bare`, {}, bareStamps)
    await new Promise((resolve) => bare!.once('open', resolve))
    await tick(20)

    let bareCallback: ((value: number) => void) | undefined
    bare.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as { type: string; data: { value: number } }
      if (message.type === 'progress') bareCallback?.(message.data.value)
    }
    const bareRound = (latencies: Latencies) =>
      floodRound(server, 'bare', 'bare-prompt', bareStamps, latencies, (onValue) => {
        bareCallback = onValue
        return () => (bareCallback = undefined)
      })

    const podRound = async (latencies: Latencies): Promise<number> => {
      let subscription: Subscription | undefined
      const posted = server.next<{ type: 'posted'; promptId: string }>('posted')
      let onProgress: ((value: number) => void) | undefined
      subscription = pod!
        .executeWorkflow$(WORKFLOW, { progressThrottleMs: 0 })
        .subscribe((event) => {
          if (event.type === 'progress' && event.totalValue > 0) onProgress?.(event.totalValue)
        })
      const { promptId } = await posted
      await tick(20)
      return floodRound(server, pod!.clientId, promptId, podStamps, latencies, (onValue) => {
        onProgress = onValue
        return () => {
          subscription?.unsubscribe()
          subscription = undefined
        }
      })
    }

    // A first round of each, not counted: JIT, buffers.
    await bareRound({ fromChunk: [], fromMessage: [] })
    await podRound({ fromChunk: [], fromMessage: [] })
    const bareLatencies: Latencies = { fromChunk: [], fromMessage: [] }
    const podLatencies: Latencies = { fromChunk: [], fromMessage: [] }
    let bareHeard = 0
    let podHeard = 0
    for (let round = 0; round < ROUNDS; round++) {
      bareHeard += await bareRound(bareLatencies)
      podHeard += await podRound(podLatencies)
    }
    if (bareHeard !== ROUNDS * FRAMES || podHeard !== ROUNDS * FRAMES)
      throw new Error(`callbacks: bare ${bareHeard}, pod ${podHeard} of ${ROUNDS * FRAMES}`)

    const stat = (values: number[], p: number) => percentile(values, p) * 1000
    const p99 = stat(podLatencies.fromChunk, 99)
    const baselineOf = (p: number, values = bareLatencies.fromChunk) => ({
      label: `bare ws + JSON.parse + callback, p${p}`,
      value: stat(values, p),
    })
    return {
      id: 'latency',
      title: `4. Latency, frame received → subscriber callback, at ${RATE.toLocaleString('en')} messages/s`,
      method:
        `${ROUNDS} × ${FRAMES} recorded-shape progress frames at ${RATE}/s from a server in a ` +
        'child process over a real socket, alternating a bare ws client and a ComfyPod job ' +
        '(progressThrottleMs 0). Latency: from the read of the TCP chunk holding the frame to ' +
        'the callback; each frame produces one callback.',
      figures: [
        against('p50', stat(podLatencies.fromChunk, 50), 'µs', baselineOf(50)),
        against('p99', p99, 'µs', baselineOf(99), {
          text: '< 1 ms',
          pass: p99 < TARGET_P99_MS * 1000,
        }),
        against('max', stat(podLatencies.fromChunk, 100), 'µs', baselineOf(100)),
        against(
          'p99 from the ws message event',
          stat(podLatencies.fromMessage, 99),
          'µs',
          baselineOf(99, bareLatencies.fromMessage),
        ),
      ],
      notes: [
        `Median frames per TCP chunk: ${median(chunkSizes(podStamps.chunkAt))} (the server ` +
          'writes in 1 ms batches, about 10 frames each).',
      ],
    }
  } finally {
    pod?.close()
    bare?.close()
    await server.stop()
  }
}

/** How many messages each chunk carried. */
function chunkSizes(chunkAt: readonly number[]): number[] {
  const sizes: number[] = []
  for (let i = 0; i < chunkAt.length; i++) {
    if (i > 0 && chunkAt[i] === chunkAt[i - 1]) sizes[sizes.length - 1]!++
    else sizes.push(1)
  }
  return sizes
}

runIfMain(import.meta.url, latency)
