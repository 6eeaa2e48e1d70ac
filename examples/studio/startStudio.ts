import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Workflow } from '../../src/job/Workflow.js'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import {
  startComfySimulator,
  type ComfySimulator,
  type ComfySimulatorOptions,
} from '../../src/simulator/index.js'
import { toServerSentEvents } from '../../src/sse/toServerSentEvents.js'
import { ComfyStoreError } from '../../src/errors/ComfyStoreError.js'
import { imageUrl } from './imageUrl.js'
import { localJobs } from './localJobs.js'
import { queueJobs } from './queueJobs.js'
import { readPrompt } from './readPrompt.js'

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
  /**
   * A Redis shared by several studio instances (`redis://host:port`): jobs go through a BullMQ
   * queue there (`comfyui-rx/queue`), any instance serves the progress and the images of any
   * job, and any worker of the fleet runs them — a worker that dies mid-job has its jobs taken
   * over by another. Without it, jobs run in this process and progress is kept in its memory.
   * @default undefined (in memory)
   */
  readonly redisUrl?: string
  /**
   * With `redisUrl`: whether this instance runs a worker too (`startComfyWorker`), or leaves the
   * jobs to workers in other processes (`examples/studio/worker.ts`).
   * @default true
   */
  readonly worker?: boolean
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
  /** The URL of the pod the workflows run on. */
  readonly podUrl: string
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
 * with its API by node:http. `POST /api/image/generate` queues a txt2img workflow for the prompt of
 * a `{"prompt": "…"}` body and answers `{promptId}` (any other body: 400 and `{error}`);
 * `GET /api/image/comfyui/:promptId/progress` streams its progress as Server-Sent Events (from the
 * latest state, so a reload mid-job shows where it stands); the output image is proxied, so
 * browsers never see the pod's URL.
 *
 * Jobs run on a `ComfyUIJobRunner` in this process, which publishes their progress to an
 * `InMemoryProgressStore`; or, with `redisUrl`, on the workers of a BullMQ queue
 * (`ComfyJobQueue`, `startComfyWorker`), where several instances share them — a job started on
 * one instance can be followed on another, and survives the death of the worker running it.
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
    redisUrl,
    worker = true,
  } = options
  const [script, simulator] = await Promise.all([
    bundleApp(),
    comfyuiUrl === undefined ? startComfySimulator(simulatorOptions) : undefined,
  ])
  const podUrl = comfyuiUrl ?? simulator!.url
  // Only for the pod's /view URLs: the runner has pods of its own.
  const viewer = new ComfyPod(podUrl)
  const podHeaders = basicAuth(podUrl)
  const progressUpdateOptions = { imageUrl }
  const jobs =
    redisUrl === undefined
      ? localJobs(podUrl, progressThrottleMs, progressUpdateOptions)
      : await queueJobs(podUrl, redisUrl, { progressThrottleMs, progressUpdateOptions, worker })
  const events = new EventEmitter<StudioEvents>()

  async function generate(text: string, res: ServerResponse): Promise<void> {
    const generated = await jobs.generate(withPrompt(text))
    if ('promptId' in generated) sendJson(res, 200, { promptId: generated.promptId })
    else sendJson(res, generated.status, { error: generated.error })
  }

  async function progress(
    promptId: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (!PROMPT_ID.test(promptId)) return sendJson(res, 400, { error: 'malformed promptId' })
    const latest = await jobs.latest(promptId)
    if (latest === undefined) return sendJson(res, 404, { error: 'unknown promptId' })
    toServerSentEvents(jobs.updates$(promptId), res, { keepAliveMs, retryMs })
    events.emit('progressStream', promptId, req, res)
  }

  async function image(promptId: string, index: number, res: ServerResponse): Promise<void> {
    // From the job's latest update: it may have run on another instance.
    const found = (await jobs.latest(promptId))?.images?.[index]
    if (found === undefined) return sendJson(res, 404, { error: 'no such image' })
    const answer = await fetch(viewer.viewUrl(found), { headers: podHeaders })
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
      const request = await readPrompt(req)
      if ('error' in request) return sendJson(res, request.status, { error: request.error })
      return generate(request.prompt, res)
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
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy()
      if (error instanceof ComfyStoreError)
        return sendJson(res, 503, { error: 'progress store unavailable' })
      sendJson(res, 500, { error: 'internal error' })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address

  function withPrompt(text: string): Workflow {
    const sampler = txt2img['3']!
    const positive = txt2img['6']!
    return {
      ...txt2img,
      // A new seed each time, or ComfyUI answers from its cache at once.
      '3': { ...sampler, inputs: { ...sampler.inputs, steps, seed: randomSeed() } },
      '6': { ...positive, inputs: { ...positive.inputs, text } },
    }
  }

  let closing: Promise<void> | undefined
  return Object.assign(events, {
    url: `http://${urlHost}:${address.port}/`,
    simulator,
    podUrl,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        await jobs.close()
        viewer.close()
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
