import { readTrace as readSharedTrace, type TraceName } from '../support/traces.js'
import { afterEach } from 'vitest'
import { WebSocket } from 'ws'
import type { RawData } from 'ws'
import { startComfySimulator } from '../../src/simulator/index.js'
import type { ComfySimulator, ComfySimulatorOptions } from '../../src/simulator/index.js'

// Raw `ws` clients and fetch against the simulator; nothing from the library's own client code.

/** A parsed text frame. */
export interface Message {
  readonly type: string
  readonly data: Record<string, unknown>
}

/** A frame as received, in order. */
export type Frame =
  | { readonly kind: 'text'; readonly message: Message }
  | { readonly kind: 'binary'; readonly data: Buffer }

// Malformed text (sent by the fault control) is kept as a message of type '<malformed>'.
function parse(buffer: Buffer): Message {
  const text = buffer.toString('utf8')
  try {
    return JSON.parse(text) as Message
  } catch {
    return { type: '<malformed>', data: { text } }
  }
}

/** A raw WebSocket that records every frame and lets a test wait for one. */
export class TestSocket {
  readonly frames: Frame[] = []
  private waiters: (() => void)[] = []
  closed = false
  readonly closedPromise: Promise<number>

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
      this.frames.push(
        isBinary ? { kind: 'binary', data: buffer } : { kind: 'text', message: parse(buffer) },
      )
      this.notify()
    })
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closed = true
        this.notify()
        resolve(code)
      })
    })
    ws.on('error', () => {})
  }

  /** Text messages received so far. */
  get messages(): Message[] {
    return this.frames.flatMap((f) => (f.kind === 'text' ? [f.message] : []))
  }

  /** Binary frames received so far. */
  get binaries(): Buffer[] {
    return this.frames.flatMap((f) => (f.kind === 'binary' ? [f.data] : []))
  }

  /** Resolves with the first frame (already received or future) that matches. */
  async waitForFrame(match: (frame: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const found = this.frames.find(match)
      if (found !== undefined) return found
      if (this.closed) throw new Error('socket closed while waiting')
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** Resolves with the first text message (already received or future) that matches. */
  async waitFor(match: (message: Message) => boolean): Promise<Message> {
    const frame = await this.waitForFrame((f) => f.kind === 'text' && match(f.message))
    return (frame as { message: Message }).message
  }

  /** Waits for `executing {node: null}` of this prompt (the end of it). */
  done(promptId: string): Promise<Message> {
    return this.waitFor(
      (m) => m.type === 'executing' && m.data['node'] === null && m.data['prompt_id'] === promptId,
    )
  }

  send(data: unknown): void {
    this.ws.send(JSON.stringify(data))
  }

  async close(): Promise<void> {
    if (!this.closed) this.ws.close()
    await this.closedPromise
  }

  private notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

/**
 * Opens a socket and waits for the on-connect status; with `featureFlags`, sends them first and
 * waits for the reply too.
 */
export async function openSocket(
  url: string,
  options: { readonly clientId?: string; readonly featureFlags?: Record<string, unknown> } = {},
): Promise<TestSocket> {
  const query =
    options.clientId === undefined ? '' : `?clientId=${encodeURIComponent(options.clientId)}`
  const ws = new WebSocket(`${url}${query}`)
  const socket = new TestSocket(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade answered ${res.statusCode}`)),
    )
  })
  if (options.featureFlags !== undefined) {
    socket.send({ type: 'feature_flags', data: options.featureFlags })
    await socket.waitFor((m) => m.type === 'feature_flags')
  }
  await socket.waitFor((m) => m.type === 'status')
  return socket
}

/** Resolves when the socket fails to open (refused, reset or answered with a status). */
export function expectConnectFailure(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('socket opened'))
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(`status ${res.statusCode}`)
      ws.terminate()
    })
    ws.once('error', (error) => resolve(error.message))
  })
}

/** POSTs JSON (or a raw string) and returns the status and parsed body (text when not JSON). */
export async function request(
  sim: ComfySimulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; contentType: string | null }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } }
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body)
  const res = await fetch(`${sim.url}${path}`, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, contentType: res.headers.get('content-type') }
}

/** POST /prompt and return the prompt id (fails the test on anything but 200). */
export async function queuePrompt(
  sim: ComfySimulator,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await request(sim, 'POST', '/prompt', body)
  if (res.status !== 200)
    throw new Error(`POST /prompt answered ${res.status}: ${JSON.stringify(res.body)}`)
  return (res.body as { prompt_id: string }).prompt_id
}

/** ComfyUI's default text-to-image graph. */
export function txt2img(steps = 3, seed = 1): Record<string, unknown> {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed,
        steps,
        cfg: 8,
        sampler_name: 'euler',
        scheduler: 'normal',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
    },
    '4': {
      class_type: 'CheckpointLoaderSimple',
      inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' },
    },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
  }
}

/** A two-node graph that runs in a few milliseconds. */
export function tiny(prefix = 'tiny', color = 0): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: prefix } },
  }
}

/**
 * Simulators and sockets for the tests of one spec file: `start` and `connect` open them,
 * `track` adopts a socket opened otherwise, and all are closed after each test.
 */
export function useSimulators() {
  const sims: ComfySimulator[] = []
  const sockets: TestSocket[] = []
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()))
    await Promise.all(sims.splice(0).map((s) => s.close()))
  })
  const track = (socket: TestSocket) => {
    sockets.push(socket)
    return socket
  }
  return {
    track,
    async start(options: ComfySimulatorOptions = {}): Promise<ComfySimulator> {
      const sim = await startComfySimulator(options)
      sims.push(sim)
      return sim
    },
    async connect(
      sim: ComfySimulator,
      clientId?: string,
      flags?: Record<string, unknown>,
    ): Promise<TestSocket> {
      return track(
        await openSocket(sim.wsUrl, {
          ...(clientId === undefined ? {} : { clientId }),
          ...(flags === undefined ? {} : { featureFlags: flags }),
        }),
      )
    },
  }
}

/** One line of a recorded trace. */
export interface TraceLine {
  readonly t: number
  readonly dir: string
  readonly [key: string]: unknown
}

/** A recorded trace, read by the shared reader, as loosely typed lines. */
export function readTrace(name: TraceName): TraceLine[] {
  return readSharedTrace(name) as unknown as TraceLine[]
}

// Values that legitimately differ between two runs: clocks, Python tracebacks, the
// queue number, and the file counters of a folder that already held files.
const normalizeValue = (value: unknown, key?: string): unknown => {
  if (key === 'timestamp') return '<timestamp>'
  if (key === 'traceback') return '<traceback>'
  if (key === 'executed' || key === 'current_outputs') {
    return Array.isArray(value) ? [...(value as string[])].sort() : value
  }
  if (key === 'filename' && typeof value === 'string')
    return value.replace(/_\d{5}_\.png$/, '_#####_.png')
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeValue(v, k)]))
  }
  return value
}

/** A message or body with run-dependent values replaced by placeholders. */
export function normalize<T>(value: T): T {
  return normalizeValue(value) as T
}

/** A history entry normalized, with the queue number (item 0 of `prompt`) masked too. */
export function normalizeHistoryEntry(entry: unknown): unknown {
  const e = normalize(entry) as { prompt: unknown[] }
  return { ...e, prompt: ['<number>', ...e.prompt.slice(1)] }
}

/** The text frames a trace's client received, in order. */
export function tracedMessages(trace: readonly TraceLine[]): Message[] {
  return trace
    .filter((l) => l.dir === 'ws-in' && l['frame'] === 'text')
    .map((l) => l['msg'] as Message)
}
