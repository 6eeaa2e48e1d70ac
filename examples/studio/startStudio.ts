import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Subscription, tap } from 'rxjs'
import type { ComfyImage } from '../../src/job/ComfyUIJobResult.js'
import type { Workflow } from '../../src/job/Workflow.js'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import {
  startComfySimulator,
  type ComfySimulator,
  type ComfySimulatorOptions,
} from '../../src/simulator/index.js'
import { toProgressUpdates } from '../../src/sse/toProgressUpdates.js'
import { toServerSentEvents } from '../../src/sse/toServerSentEvents.js'
import { InMemoryProgressStore } from './InMemoryProgressStore.js'

/** Options of {@link startStudio}. */
export interface StudioOptions {
  /**
   * The ComfyUI server to run workflows on; without it, an embedded simulator.
   * @default undefined (a simulator)
   */
  readonly comfyuiUrl?: string
  /**
   * Port to listen on; 0 picks a free one.
   * @default 0
   */
  readonly port?: number
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * Options of the embedded simulator.
   * @default { stepDurationMs: 100 }
   */
  readonly simulator?: ComfySimulatorOptions
  /**
   * Sampler steps of the txt2img workflow.
   * @default 20
   */
  readonly steps?: number
  /**
   * Minimum time between two progress events of a job.
   * @default 100
   */
  readonly progressThrottleMs?: number
  /**
   * Keepalive interval of the progress streams.
   * @default 15000
   */
  readonly keepAliveMs?: number
  /**
   * How soon browsers reconnect a lost progress stream (the `retry:` hint).
   * @default 1000
   */
  readonly retryMs?: number
}

/** Events of a running studio, for tests. */
export interface StudioEvents {
  /** A browser opened the progress stream of a prompt. */
  progressStream: [promptId: string, req: IncomingMessage, res: ServerResponse]
}

/** A running studio. */
export interface Studio extends EventEmitter<StudioEvents> {
  /** `http://host:port/`. */
  readonly url: string
  /** The embedded simulator, when no `comfyuiUrl` was given. */
  readonly simulator: ComfySimulator | undefined
  /** Stops the server, the jobs, the pod and the simulator. */
  close(): Promise<void>
}

const PROMPT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const PROGRESS_PATH = /^\/api\/image\/comfyui\/([^/]+)\/progress$/
const IMAGE_PATH = /^\/api\/image\/comfyui\/([^/]+)\/images\/(\d+)$/
const WEB = new URL('./web/', import.meta.url)

const txt2img = JSON.parse(
  readFileSync(new URL('../workflows/txt2img.json', import.meta.url), 'utf8'),
) as Workflow

/**
 * The studio example: a page with a prompt box, a Generate button and a live `ProgressBar`, served
 * with its API by node:http. `POST /api/image/generate` queues a txt2img workflow and answers
 * `{promptId}`; `GET /api/image/comfyui/:promptId/progress` streams its progress as Server-Sent
 * Events (from the latest state, so a reload mid-job shows where it stands); the output image is
 * proxied, so browsers never see the pod's URL.
 */
export async function startStudio(options: StudioOptions = {}): Promise<Studio> {
  const {
    comfyuiUrl,
    port = 0,
    host = '127.0.0.1',
    simulator: simulatorOptions = { stepDurationMs: 100 },
    steps = 20,
    progressThrottleMs = 100,
    keepAliveMs = 15_000,
    retryMs = 1_000,
  } = options
  const [script, simulator] = await Promise.all([
    bundleApp(),
    comfyuiUrl === undefined ? startComfySimulator(simulatorOptions) : undefined,
  ])
  const podUrl = comfyuiUrl ?? simulator!.url
  const pod = new ComfyPod(podUrl)
  const podHeaders = basicAuth(podUrl)
  const store = new InMemoryProgressStore()
  const images = new Map<string, readonly ComfyImage[]>()
  const jobs = new Set<Subscription>()
  const events = new EventEmitter<StudioEvents>()

  function generate(body: unknown, res: ServerResponse): void {
    const text = (body as { prompt?: unknown } | undefined)?.prompt
    const workflow = withPrompt(typeof text === 'string' && text.trim() !== '' ? text : undefined)
    let answered = false
    const job = pod
      .executeWorkflow$(workflow, { progressThrottleMs })
      .pipe(
        tap((event) => {
          if (event.type !== 'completed') return
          images.set(event.promptId, event.result.images)
          // Kept as long as the store keeps the prompt, roughly: the oldest goes first.
          const [oldest] = images.keys()
          if (images.size > 1000 && oldest !== undefined) images.delete(oldest)
        }),
        toProgressUpdates({
          imageUrl: (_image, index, promptId) => `/api/image/comfyui/${promptId}/images/${index}`,
        }),
      )
      .subscribe({
        next: (update) => {
          if (!answered && update.status === 'failed') {
            // Refused before it was queued (invalid workflow, pod unreachable): no prompt to follow.
            answered = true
            const status = update.errorName === 'ComfyValidationError' ? 400 : 502
            return sendJson(res, status, { error: update.message })
          }
          store.set(update)
          if (!answered) {
            answered = true
            sendJson(res, 200, { promptId: update.promptId })
          }
        },
        complete: () => jobs.delete(job),
      })
    if (!job.closed) jobs.add(job)
  }

  function progress(promptId: string, req: IncomingMessage, res: ServerResponse): void {
    if (!PROMPT_ID.test(promptId)) return sendJson(res, 400, { error: 'malformed promptId' })
    const updates$ = store.updates$(promptId)
    if (updates$ === undefined) return sendJson(res, 404, { error: 'unknown promptId' })
    toServerSentEvents(updates$, res, { keepAliveMs, retryMs })
    events.emit('progressStream', promptId, req, res)
  }

  async function image(promptId: string, index: number, res: ServerResponse): Promise<void> {
    const found = images.get(promptId)?.[index]
    if (found === undefined) return sendJson(res, 404, { error: 'no such image' })
    const answer = await fetch(found.url, { headers: podHeaders })
    if (!answer.ok) return sendJson(res, 502, { error: 'the image server did not give the image' })
    res.writeHead(200, {
      'content-type': answer.headers.get('content-type') ?? 'image/png',
      'cache-control': 'private, max-age=3600',
    })
    res.end(Buffer.from(await answer.arrayBuffer()))
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://studio')
    const method = req.method ?? 'GET'
    if (method === 'GET' && pathname === '/') return sendFile(res, 'index.html', 'text/html')
    if (method === 'GET' && pathname === '/styles.css')
      return sendFile(res, 'styles.css', 'text/css')
    if (method === 'GET' && pathname === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      return void res.end(script)
    }
    if (method === 'POST' && pathname === '/api/image/generate') {
      return generate(await readJson(req), res)
    }
    const progressMatch = PROGRESS_PATH.exec(pathname)
    if (method === 'GET' && progressMatch !== null) {
      return progress(decodeURIComponent(progressMatch[1]!), req, res)
    }
    const imageMatch = IMAGE_PATH.exec(pathname)
    if (method === 'GET' && imageMatch !== null) {
      return image(decodeURIComponent(imageMatch[1]!), Number(imageMatch[2]), res)
    }
    sendJson(res, 404, { error: 'not found' })
  }

  const server = createServer((req, res) => {
    route(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address

  function withPrompt(text: string | undefined): Workflow {
    const sampler = txt2img['3']!
    const positive = txt2img['6']!
    return {
      ...txt2img,
      // A new seed each time, or ComfyUI answers from its cache at once.
      '3': { ...sampler, inputs: { ...sampler.inputs, steps, seed: randomSeed() } },
      '6': { ...positive, inputs: { ...positive.inputs, ...(text === undefined ? {} : { text }) } },
    }
  }

  let closing: Promise<void> | undefined
  return Object.assign(events, {
    url: `http://${urlHost}:${address.port}/`,
    simulator,
    close: () =>
      (closing ??= (async () => {
        for (const job of jobs) job.unsubscribe()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        pod.close()
        await simulator?.close()
      })()),
  })
}

let bundle: Promise<Uint8Array> | undefined

/** The page's script: web/main.tsx and React, bundled for browsers by esbuild (once a process). */
function bundleApp(): Promise<Uint8Array> {
  bundle ??= bundleOnce()
  bundle.catch(() => (bundle = undefined))
  return bundle
}

async function bundleOnce(): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('main.tsx', WEB))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.contents
}

function sendFile(res: ServerResponse, name: string, type: string): void {
  res.writeHead(200, { 'content-type': `${type}; charset=utf-8` })
  res.end(readFileSync(new URL(name, WEB)))
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 64 * 1024) return undefined
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

/** `Authorization` for a pod URL with `user:pass@` (the pod's own `/view` URLs drop them). */
function basicAuth(url: string): Record<string, string> {
  const { username, password } = new URL(url)
  if (username === '' && password === '') return {}
  const credentials = `${decodeURIComponent(username)}:${decodeURIComponent(password)}`
  return { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` }
}

function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)
}
