import { EventEmitter } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { builtinNodeTypes } from './builtinNodeTypes.js'
import type { SimulatedModels } from './builtinNodeTypes.js'
import type { InjectedFailure } from './executePrompt.js'
import { FileStore } from './FileStore.js'
import { handleHttpRequest, stripApi } from './handleHttpRequest.js'
import type { HttpContext } from './handleHttpRequest.js'
import { simulatedComfyVersions } from './SimulatedComfyVersion.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import { SimulatorRuntime } from './SimulatorRuntime.js'
import type { RuntimeDeps } from './SimulatorRuntime.js'
import { SocketHub } from './SocketHub.js'

/**
 * Options of {@link startComfySimulator}.
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * // a slow sampler for a demo; everything else at test speed
 * const sim = await startComfySimulator({ stepDurationMs: 100, previews: false })
 * ```
 */
export interface ComfySimulatorOptions {
  /**
   * The ComfyUI release to imitate: `'0.3.64'` answers exactly like the recorded 0.3.64 traces;
   * `'0.33'` adds what changed up to 0.33 (the Jobs API under `/api/jobs`, canonical-UUID
   * `prompt_id`s, `dependency_cycle` and `missing_node_type` validation errors, `create_time` and
   * `preview_method` in `extra_data`, cached intermediate outputs re-sent, the newer
   * `/system_stats`).
   * @default '0.3.64'
   */
  readonly version?: SimulatedComfyVersion
  /**
   * TCP port to listen on; 0 picks a free one (read it back from `ComfySimulator.port`).
   * @default 0
   */
  readonly port?: number
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * Time a node without progress steps takes to execute.
   * @default 2
   */
  readonly nodeDurationMs?: number
  /**
   * Time each progress step of a step-based node takes (KSampler: one per `steps`).
   * @default 5
   */
  readonly stepDurationMs?: number
  /**
   * Whether step-based nodes send a preview frame with each step (type 4 to clients that
   * advertised `supports_preview_metadata`, type 1 to the others), like `--preview-method`. With
   * version `'0.33'` a prompt's `extra_data.preview_method` overrides it for that prompt: `'none'`
   * turns previews off, `'auto'`, `'latent2rgb'` and `'taesd'` turn them on.
   * @default true
   */
  readonly previews?: boolean
  /**
   * Request body limit in bytes (413 above it), also reported as `max_upload_size` in
   * `/features` and the `feature_flags` reply.
   * @default 104857600 (100 MiB, ComfyUI's default)
   */
  readonly maxUploadSize?: number
  /**
   * ComfyUI's default execution cache: a node whose inputs and upstream are unchanged from the
   * previous prompt is not executed again. `false` behaves like `--cache-none`.
   * @default true
   */
  readonly cache?: boolean
  /**
   * Model files the loader nodes offer (their combo lists, validated like the real ones).
   * @default { checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
   *   vae: ['random_taesd_vae.pt', 'vae-ft-mse-840000-ema-pruned.safetensors'] }
   */
  readonly models?: Partial<SimulatedModels>
  /**
   * Extra node types, or overrides of built-in ones (fields given replace the built-in's).
   * @default {}
   */
  readonly nodeTypes?: Readonly<Record<string, SimulatedNodeType>>
  /**
   * Start with the worker paused (prompts queue up until `resume()`).
   * @default false
   */
  readonly paused?: boolean
  /**
   * Like ComfyUI's `--enable-cors-header`: answers with CORS headers for this origin and turns
   * off the loopback Host/Origin check (which otherwise answers 403 to a mismatched Origin).
   * @default undefined
   */
  readonly enableCorsHeader?: string
}

/** A node failure to inject with {@link ComfySimulator.failNode}. */
export interface NodeFailure {
  /**
   * Fail the node with this id (any prompt). At least one of `nodeId`, `classType` is needed.
   * @default undefined
   */
  readonly nodeId?: string
  /**
   * Fail nodes of this class_type.
   * @default undefined
   */
  readonly classType?: string
  /**
   * How many executions fail; `Infinity` until `clearNodeFailures()`.
   * @default 1
   */
  readonly times?: number
  /**
   * The exception text (`exception_message`, to which ComfyUI adds a newline).
   * @default 'Simulated failure'
   */
  readonly message?: string
  /**
   * The Python exception type (`exception_type`).
   * @default 'RuntimeError'
   */
  readonly exceptionType?: string
  /**
   * Fail after this many progress steps were reported (a sampler failing mid-way).
   * @default all of the node's steps
   */
  readonly afterSteps?: number
}

/** An HTTP answer to inject with {@link ComfySimulator.failEndpoint}. */
export interface EndpointFailure {
  /**
   * The path, with or without the `/api` prefix (`'/history'` matches `/api/history` too); a
   * RegExp is tested against the path without the prefix (`/^\/history\//`). `'/ws'` applies to
   * WebSocket upgrades.
   */
  readonly path: string | RegExp
  /**
   * HTTP method to match; any when omitted.
   * @default undefined
   */
  readonly method?: string
  /** Status code to answer with. */
  readonly status: number
  /**
   * How many requests get it; `Infinity` until `clearEndpointFailures()`.
   * @default 1
   */
  readonly times?: number
  /**
   * Response body: a string as text/plain, anything else as JSON.
   * @default aiohttp's text for the status
   */
  readonly body?: unknown
}

/** Options of {@link ComfySimulator.restart}. */
export interface RestartOptions {
  /**
   * Time the server is down: TCP connections (HTTP and WebSocket) are reset until it is over.
   * @default 0
   */
  readonly downtimeMs?: number
}

/**
 * Events a {@link ComfySimulator} emits, to wait on in tests instead of sleeping.
 *
 * @example
 * ```ts
 * import { once } from 'node:events'
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator()
 * const connected = once(sim, 'connection')
 * // … let the client under test connect …
 * console.log(await connected) // ['my-client-id']
 * ```
 */
export interface ComfySimulatorEvents {
  /** A WebSocket was accepted and registered under this clientId. */
  connection: [clientId: string]
  /** A WebSocket registered under this clientId closed. */
  disconnection: [clientId: string]
  /** POST /prompt queued a prompt. */
  promptQueued: [promptId: string]
  /** The worker took a prompt (`execution_start` is being sent). */
  promptStarted: [promptId: string]
  /** A prompt's history entry is written and its closing messages sent. */
  promptFinished: [promptId: string, outcome: 'success' | 'error' | 'interrupted']
  /** An HTTP request arrived (path without the `/api` prefix). */
  request: [method: string, path: string]
  /** The worker died of an unexpected error; prompts stay queued until a restart. */
  workerError: [error: unknown]
}

/**
 * A running ComfyUI simulator: a real HTTP + WebSocket server speaking the protocol of ComfyUI
 * 0.3.64 or 0.33 (see {@link ComfySimulatorOptions.version}), with inspection and fault controls
 * for tests.
 *
 * @example
 * ```ts
 * import { once } from 'node:events'
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator()
 * sim.failNode({ classType: 'KSampler', afterSteps: 3 }) // the next sampler raises at step 4
 * sim.failEndpoint({ method: 'GET', path: '/history', status: 500, times: 2 })
 * sim.setSilent(true) // sockets stay open, nothing arrives: the client must poll REST
 * const [promptId, outcome] = await once(sim, 'promptFinished')
 * console.log(promptId, outcome) // '…' 'error'
 * await sim.close()
 * ```
 */
export interface ComfySimulator extends EventEmitter<ComfySimulatorEvents> {
  /** The ComfyUI release this simulator imitates. */
  readonly version: SimulatedComfyVersion
  /** Base URL, `http://host:port`. */
  readonly url: string
  /** WebSocket URL without clientId, `ws://host:port/ws`. */
  readonly wsUrl: string
  /** The port listened on. */
  readonly port: number
  /** The address listened on. */
  readonly host: string
  /** The underlying server (`listening` is false once closed). */
  readonly httpServer: Server
  /** Open WebSocket connections, registered or not. */
  readonly openSockets: number
  /** The clientIds (sids) in the socket registry. */
  readonly clientIds: readonly string[]
  /** Pending plus running prompts. */
  readonly queueRemaining: number
  /** The prompt the worker is executing. */
  readonly runningPromptId: string | undefined
  /** Pending prompt ids, in the order they will run. */
  readonly pendingPromptIds: readonly string[]
  /** Prompt ids in history, oldest first. */
  readonly historyPromptIds: readonly string[]

  /** Closes every WebSocket abruptly (no close frame). */
  dropSockets(): void
  /** While on, WebSocket upgrades are refused (the TCP socket is destroyed); REST keeps working. */
  refuseSockets(on: boolean): void
  /**
   * While on, sockets stay open but nothing is sent to any of them (including sockets that
   * connect meanwhile); frames are dropped, not buffered, as with ComfyUI's silent de-registration.
   */
  setSilent(on: boolean): void
  /** Makes matching node executions raise, ending their prompt with `execution_error`. */
  failNode(failure: NodeFailure): void
  /** Removes every injected node failure. */
  clearNodeFailures(): void
  /** Answers matching requests with a status code instead of handling them. */
  failEndpoint(failure: EndpointFailure): void
  /** Removes every injected endpoint answer. */
  clearEndpointFailures(): void
  /**
   * Simulates a server restart: sockets and connections are dropped; queue, running prompt,
   * history, cache and temp files are lost (output files stay, as on disk).
   */
  restart(options?: RestartOptions): Promise<void>
  /** Sends a raw frame (text or binary), e.g. a malformed one, to every socket or one clientId. */
  sendRawFrame(data: string | Uint8Array, clientId?: string): void
  /** Stops the worker from taking prompts (the running one finishes) so a queue builds up. */
  pause(): void
  /** Lets the worker take prompts again. */
  resume(): void
  /** Freezes the worker: the running prompt stays in `queue_running` and nothing more is sent. */
  hangWorker(): void
  /** Stops everything: sockets terminated, connections closed, timers cleared. */
  close(): Promise<void>
}

const DEFAULT_MODELS: SimulatedModels = {
  checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
  vae: ['random_taesd_vae.pt', 'vae-ft-mse-840000-ema-pruned.safetensors'],
}

interface ActiveFailure<T> {
  readonly spec: T
  remaining: number
}

const STATUS_BODIES: Record<number, string> = {
  500: '500 Internal Server Error\n\nServer got itself in trouble',
}

function checkNumber(label: string, value: number, min: number, integer = false): void {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    throw new TypeError(
      `${label} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`,
    )
  }
}

// A TCP reset, like a refused or killed server: clients fail at once with ECONNRESET (a plain
// destroy() right after accept leaves fetch waiting for ever).
function reset(socket: Socket | Duplex): void {
  if ('resetAndDestroy' in socket && typeof socket.resetAndDestroy === 'function') {
    socket.resetAndDestroy()
  } else {
    socket.destroy()
  }
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '::1' ||
    hostname === '[::1]' ||
    hostname.startsWith('127.')
  )
}

class Simulator extends EventEmitter<ComfySimulatorEvents> implements ComfySimulator {
  readonly url: string
  readonly wsUrl: string
  private readonly hub: SocketHub
  private readonly files = new FileStore()
  private readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 })
  private readonly connections = new Set<Socket | Duplex>()
  private readonly nodeFailures: ActiveFailure<NodeFailure>[] = []
  private readonly endpointFailures: ActiveFailure<EndpointFailure>[] = []
  private readonly deps: RuntimeDeps
  private readonly http: HttpContext
  private runtime: SimulatorRuntime
  private paused: boolean
  private refusing = false
  private down = false
  private downtime: { readonly timer: NodeJS.Timeout; readonly end: () => void } | undefined
  private closing: Promise<void> | undefined

  constructor(
    readonly httpServer: Server,
    readonly host: string,
    readonly port: number,
    private readonly options: Required<
      Omit<
        ComfySimulatorOptions,
        'enableCorsHeader' | 'models' | 'nodeTypes' | 'port' | 'host' | 'version'
      >
    > & {
      readonly version: SimulatedComfyVersion
      readonly enableCorsHeader: string | undefined
      readonly models: SimulatedModels
      readonly nodeTypes: Readonly<Record<string, SimulatedNodeType>>
    },
  ) {
    super()
    const urlHost = host.includes(':') ? `[${host}]` : host
    this.url = `http://${urlHost}:${port}`
    this.wsUrl = `ws://${urlHost}:${port}/ws`
    this.paused = options.paused
    const serverFeatures = () => ({
      supports_preview_metadata: true,
      max_upload_size: options.maxUploadSize,
    })
    this.hub = new SocketHub(serverFeatures, {
      connected: (sid) => this.emit('connection', sid),
      disconnected: (sid) => this.emit('disconnection', sid),
    })

    const builtins = builtinNodeTypes(
      options.models,
      this.files,
      () => {
        const current = this.runtime.queue.current
        return { prompt: current?.prompt, extraPngInfo: current?.extraData['extra_pnginfo'] }
      },
      options.version,
    )
    const types = new Map(Object.entries(builtins))
    for (const [name, type] of Object.entries(options.nodeTypes)) {
      types.set(name, { ...types.get(name), ...type })
    }
    this.nodeTypes = types

    this.deps = {
      version: options.version,
      hub: this.hub,
      files: this.files,
      nodeTypes: this.nodeTypes,
      cacheEnabled: options.cache,
      nodeDurationMs: options.nodeDurationMs,
      stepDurationMs: options.stepDurationMs,
      previews: options.previews,
      takeFailure: (nodeId, classType) => this.takeNodeFailure(nodeId, classType),
      started: (promptId) => this.emit('promptStarted', promptId),
      finished: (promptId, outcome) => this.emit('promptFinished', promptId, outcome),
      died: (error) => this.emit('workerError', error),
    }
    this.runtime = new SimulatorRuntime(this.deps, this.paused)
    this.http = {
      version: options.version,
      runtime: () => this.runtime,
      files: this.files,
      nodeTypes: this.nodeTypes,
      models: options.models,
      maxUploadSize: options.maxUploadSize,
      argv: ['main.py', '--listen', host, '--port', String(port)],
      serverFeatures,
      queued: (promptId) => this.emit('promptQueued', promptId),
    }

    httpServer.on('connection', (socket: Socket) => {
      if (this.down || this.closing !== undefined) {
        reset(socket)
        return
      }
      this.track(socket)
    })
    httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end()
        else res.destroy()
      })
    })
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    )
    httpServer.on('clientError', (_error, socket: Duplex) => socket.destroy())
  }

  get version(): SimulatedComfyVersion {
    return this.options.version
  }

  get openSockets(): number {
    return this.hub.openSockets
  }

  get clientIds(): readonly string[] {
    return this.hub.clientIds
  }

  get queueRemaining(): number {
    return this.runtime.queue.remaining
  }

  get runningPromptId(): string | undefined {
    return this.runtime.queue.current?.promptId
  }

  get pendingPromptIds(): readonly string[] {
    return this.runtime.queue.pendingInRunOrder
  }

  get historyPromptIds(): readonly string[] {
    return this.runtime.queue.historyIds
  }

  dropSockets(): void {
    this.hub.terminateAll()
  }

  refuseSockets(on: boolean): void {
    this.refusing = on
  }

  setSilent(on: boolean): void {
    this.hub.silent = on
  }

  failNode(failure: NodeFailure): void {
    if (failure.nodeId === undefined && failure.classType === undefined) {
      throw new TypeError('NodeFailure needs a nodeId or a classType, got neither')
    }
    checkNumber('NodeFailure.times', failure.times ?? 1, 1)
    this.nodeFailures.push({ spec: failure, remaining: failure.times ?? 1 })
  }

  clearNodeFailures(): void {
    this.nodeFailures.length = 0
  }

  failEndpoint(failure: EndpointFailure): void {
    checkNumber('EndpointFailure.status', failure.status, 100, true)
    checkNumber('EndpointFailure.times', failure.times ?? 1, 1)
    this.endpointFailures.push({ spec: failure, remaining: failure.times ?? 1 })
  }

  clearEndpointFailures(): void {
    this.endpointFailures.length = 0
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    const { downtimeMs = 0 } = options
    checkNumber('RestartOptions.downtimeMs', downtimeMs, 0)
    this.down = true
    this.hub.reset()
    for (const connection of this.connections) reset(connection)
    await this.runtime.stop()
    this.files.wipeTemp()
    this.runtime = new SimulatorRuntime(this.deps, this.paused)
    if (downtimeMs > 0 && this.closing === undefined) {
      await new Promise<void>((resolve) => {
        this.downtime = { timer: setTimeout(resolve, downtimeMs), end: resolve }
      })
      this.downtime = undefined
    }
    this.down = false
  }

  sendRawFrame(data: string | Uint8Array, clientId?: string): void {
    this.hub.sendRaw(data, clientId)
  }

  pause(): void {
    this.paused = true
    this.runtime.pause()
  }

  resume(): void {
    this.paused = false
    this.runtime.resume()
  }

  hangWorker(): void {
    this.runtime.hang()
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    // close() during a downtime ends it, so the pending restart() settles too.
    if (this.downtime !== undefined) {
      clearTimeout(this.downtime.timer)
      this.downtime.end()
    }
    await this.runtime.stop()
    this.hub.terminateAll()
    for (const connection of this.connections) reset(connection)
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    this.httpServer.closeAllConnections()
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()))
  }

  private track(connection: Socket | Duplex): void {
    this.connections.add(connection)
    connection.on('close', () => this.connections.delete(connection))
    connection.on('error', () => {})
  }

  private takeNodeFailure(nodeId: string, classType: string): InjectedFailure | undefined {
    const i = this.nodeFailures.findIndex(
      ({ spec }) =>
        (spec.nodeId === undefined || spec.nodeId === nodeId) &&
        (spec.classType === undefined || spec.classType === classType),
    )
    const failure = this.nodeFailures[i]
    if (failure === undefined) return undefined
    if (--failure.remaining <= 0) this.nodeFailures.splice(i, 1)
    return {
      message: failure.spec.message ?? 'Simulated failure',
      exceptionType: failure.spec.exceptionType ?? 'RuntimeError',
      afterSteps: failure.spec.afterSteps,
    }
  }

  private takeEndpointFailure(method: string, path: string): EndpointFailure | undefined {
    const i = this.endpointFailures.findIndex(({ spec }) => {
      if (spec.method !== undefined && spec.method.toUpperCase() !== method) return false
      return typeof spec.path === 'string' ? stripApi(spec.path) === path : spec.path.test(path)
    })
    const failure = this.endpointFailures[i]
    if (failure === undefined) return undefined
    if (--failure.remaining <= 0) this.endpointFailures.splice(i, 1)
    return failure.spec
  }

  // server.py create_origin_only_middleware: a loopback Host with a different Origin is refused.
  private originRejected(req: IncomingMessage): boolean {
    if (this.options.enableCorsHeader !== undefined) return false
    const host = req.headers.host
    const origin = req.headers.origin
    if (host === undefined || origin === undefined) return false
    let originUrl: URL
    let hostUrl: URL
    try {
      originUrl = new URL(origin)
      hostUrl = new URL(`http://${host}`)
    } catch {
      return false
    }
    let hostDomain = host.toLowerCase()
    let originDomain = originUrl.host.toLowerCase()
    if (originUrl.port === '') hostDomain = hostUrl.hostname
    if (hostUrl.port === '') originDomain = originUrl.hostname
    return (
      isLoopback(hostUrl.hostname) &&
      hostDomain !== '' &&
      originDomain !== '' &&
      hostDomain !== originDomain
    )
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator')
    const method = (req.method ?? 'GET').toUpperCase()
    const path = stripApi(url.pathname)
    this.emit('request', method, path)
    const cors = this.options.enableCorsHeader
    if (cors !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', cors)
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, DELETE, PUT, OPTIONS, PATCH')
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization')
      res.setHeader('Access-Control-Allow-Credentials', 'true')
      if (method === 'OPTIONS') {
        res.writeHead(200).end()
        return
      }
    }
    if (this.originRejected(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end('403: Forbidden')
      return
    }
    const failure = this.takeEndpointFailure(method, path)
    if (failure !== undefined) {
      const body =
        failure.body === undefined
          ? (STATUS_BODIES[failure.status] ?? `${failure.status}: Simulated failure`)
          : failure.body
      const isText = typeof body === 'string'
      res.writeHead(failure.status, {
        'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      })
      res.end(isText ? body : JSON.stringify(body))
      return
    }
    const reply = await handleHttpRequest(this.http, req, url.pathname, url.searchParams)
    if (!res.destroyed) reply(res)
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    if (this.down || this.refusing || this.closing !== undefined) {
      reset(socket)
      return
    }
    const url = new URL(req.url ?? '/', 'http://simulator')
    const path = stripApi(url.pathname)
    const failure = this.takeEndpointFailure('GET', path)
    const reject = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    }
    if (failure !== undefined) return reject(failure.status, 'Simulated failure')
    if (path !== '/ws') return reject(404, 'Not Found')
    if (this.originRejected(req)) return reject(403, 'Forbidden')
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing !== undefined || this.down) {
        ws.terminate()
        return
      }
      this.hub.accept(ws, req, {
        queueRemaining: this.runtime.queue.remaining,
        executingNode: (sid) => {
          const current = this.runtime.current
          return current.clientId === sid && current.lastNodeId !== null
            ? current.lastNodeId
            : undefined
        },
      })
    })
  }
}

/**
 * Starts a ComfyUI simulator (0.3.64 by default, or 0.33): a real HTTP + WebSocket server on
 * 127.0.0.1 (port 0 by default) that validates prompts, queues them, executes simulated nodes with
 * progress and previews, keeps history and serves PNGs, with the message order and routing of the
 * real server.
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator()
 * const res = await fetch(`${sim.url}/prompt`, {
 *   method: 'POST',
 *   body: JSON.stringify({
 *     prompt: {
 *       '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
 *       '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'demo' } },
 *     },
 *   }),
 * })
 * console.log(await res.json()) // { prompt_id: '…', number: 0, node_errors: {} }
 * await sim.close()
 * ```
 *
 * @param options see {@link ComfySimulatorOptions}
 * @returns the running simulator, once it listens
 * @throws TypeError when an option is out of range; the listen error when the port is taken
 */
export async function startComfySimulator(
  options: ComfySimulatorOptions = {},
): Promise<ComfySimulator> {
  const {
    version = '0.3.64',
    port = 0,
    host = '127.0.0.1',
    nodeDurationMs = 2,
    stepDurationMs = 5,
    previews = true,
    maxUploadSize = 100 * 1024 * 1024,
    cache = true,
    models = {},
    nodeTypes = {},
    paused = false,
    enableCorsHeader,
  } = options
  if (!simulatedComfyVersions.includes(version)) {
    throw new TypeError(
      `ComfySimulatorOptions.version must be one of ${simulatedComfyVersions.join(', ')}, got ${String(version)}`,
    )
  }
  checkNumber('ComfySimulatorOptions.port', port, 0, true)
  if (port > 65535) throw new TypeError(`ComfySimulatorOptions.port must be <= 65535, got ${port}`)
  if (typeof host !== 'string' || host === '') {
    throw new TypeError(
      `ComfySimulatorOptions.host must be a non-empty string, got ${String(host)}`,
    )
  }
  checkNumber('ComfySimulatorOptions.nodeDurationMs', nodeDurationMs, 0)
  checkNumber('ComfySimulatorOptions.stepDurationMs', stepDurationMs, 0)
  checkNumber('ComfySimulatorOptions.maxUploadSize', maxUploadSize, 1)

  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // Errors after listening (none expected) must not crash the process that hosts the tests.
  server.on('error', () => {})
  const address = server.address()
  const actualPort = typeof address === 'object' && address !== null ? address.port : port
  return new Simulator(server, host, actualPort, {
    version,
    nodeDurationMs,
    stepDurationMs,
    previews,
    maxUploadSize,
    cache,
    paused,
    enableCorsHeader,
    models: { ...DEFAULT_MODELS, ...models },
    nodeTypes,
  })
}
