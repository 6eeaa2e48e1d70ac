import { EventEmitter } from 'node:events'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { nonNegative } from '../internal/optionChecks.js'
import { builtinNodeTypes } from './builtinNodeTypes.js'
import type {
  ComfySimulator,
  ComfySimulatorEvents,
  EndpointFailure,
  NodeFailure,
  RestartOptions,
} from './ComfySimulator.js'
import type { ComfySimulatorOptions } from './ComfySimulatorOptions.js'
import { FaultInjector } from './FaultInjector.js'
import { FileStore } from './FileStore.js'
import { handleHttpRequest, stripApi } from './handleHttpRequest.js'
import { OriginPolicy } from './OriginPolicy.js'
import type { HttpContext } from './Route.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import { SimulatorRuntime } from './SimulatorRuntime.js'
import type { RuntimeDeps } from './SimulatorRuntime.js'
import { SocketHub } from './SocketHub.js'

/** The options of `startComfySimulator` with their defaults applied, minus where to listen. */
export type SimulatorSettings = Required<
  Omit<
    ComfySimulatorOptions,
    'enableCorsHeader' | 'models' | 'nodeTypes' | 'port' | 'host' | 'version'
  >
> & {
  readonly version: SimulatedComfyVersion
  readonly enableCorsHeader: string | undefined
  readonly models: SimulatedModels
  readonly nodeTypes: Readonly<Record<string, SimulatedNodeType>>
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

/**
 * A {@link ComfySimulator} on a listening server: routes its HTTP requests and WebSocket upgrades
 * through the origin policy and the injected faults to the routes and the socket registry, and
 * keeps the runtime a restart replaces.
 */
export class SimulatorServer extends EventEmitter<ComfySimulatorEvents> implements ComfySimulator {
  readonly url: string
  readonly wsUrl: string
  private readonly hub: SocketHub
  private readonly files = new FileStore()
  private readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 })
  private readonly connections = new Set<Socket | Duplex>()
  private readonly faults = new FaultInjector()
  private readonly origins: OriginPolicy
  private readonly deps: RuntimeDeps
  private readonly http: HttpContext
  private runtime: SimulatorRuntime
  private paused: boolean
  private closing: Promise<void> | undefined

  constructor(
    readonly httpServer: Server,
    readonly host: string,
    readonly port: number,
    private readonly settings: SimulatorSettings,
  ) {
    super()
    const urlHost = host.includes(':') ? `[${host}]` : host
    this.url = `http://${urlHost}:${port}`
    this.wsUrl = `ws://${urlHost}:${port}/ws`
    this.paused = settings.paused
    this.origins = new OriginPolicy(settings.enableCorsHeader)
    const serverFeatures = () => ({
      supports_preview_metadata: true,
      max_upload_size: settings.maxUploadSize,
    })
    this.hub = new SocketHub(serverFeatures, {
      connected: (sid) => this.emit('connection', sid),
      disconnected: (sid) => this.emit('disconnection', sid),
    })

    const builtins = builtinNodeTypes(
      settings.models,
      this.files,
      () => {
        const current = this.runtime.queue.current
        return { prompt: current?.prompt, extraPngInfo: current?.extraData['extra_pnginfo'] }
      },
      settings.version,
    )
    const types = new Map(Object.entries(builtins))
    for (const [name, type] of Object.entries(settings.nodeTypes)) {
      types.set(name, { ...types.get(name), ...type })
    }
    for (const [name, timing] of Object.entries(settings.timings)) {
      const type = types.get(name)
      if (type !== undefined) types.set(name, { ...type, ...timing })
    }
    this.nodeTypes = types

    this.deps = {
      version: settings.version,
      hub: this.hub,
      files: this.files,
      nodeTypes: this.nodeTypes,
      cacheEnabled: settings.cache,
      nodeDurationMs: settings.nodeDurationMs,
      stepDurationMs: settings.stepDurationMs,
      previews: settings.previews,
      takeFailure: (nodeId, classType) => this.faults.takeNodeFailure(nodeId, classType),
      started: (promptId) => this.emit('promptStarted', promptId),
      finished: (promptId, outcome) => this.emit('promptFinished', promptId, outcome),
      died: (error) => this.emit('workerError', error),
    }
    this.runtime = new SimulatorRuntime(this.deps, this.paused)
    this.http = {
      version: settings.version,
      runtime: () => this.runtime,
      files: this.files,
      nodeTypes: this.nodeTypes,
      models: settings.models,
      maxUploadSize: settings.maxUploadSize,
      argv: ['main.py', '--listen', host, '--port', String(port)],
      serverFeatures,
      queued: (promptId) => this.emit('promptQueued', promptId),
    }

    httpServer.on('connection', (socket: Socket) => {
      if (this.faults.down || this.closing !== undefined) {
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
    return this.settings.version
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
    this.faults.refusingSockets = on
  }

  setSilent(on: boolean): void {
    this.hub.silent = on
  }

  failNode(failure: NodeFailure): void {
    this.faults.failNode(failure)
  }

  clearNodeFailures(): void {
    this.faults.clearNodeFailures()
  }

  failEndpoint(failure: EndpointFailure): void {
    this.faults.failEndpoint(failure)
  }

  clearEndpointFailures(): void {
    this.faults.clearEndpointFailures()
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    const { downtimeMs = 0 } = options
    nonNegative('RestartOptions.downtimeMs', downtimeMs)
    this.faults.down = true
    this.hub.reset()
    for (const connection of this.connections) reset(connection)
    await this.runtime.stop()
    this.files.wipeTemp()
    this.runtime = new SimulatorRuntime(this.deps, this.paused)
    if (this.closing === undefined) await this.faults.waitDowntime(downtimeMs)
    this.faults.down = false
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
    this.faults.endDowntime()
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

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator')
    const method = (req.method ?? 'GET').toUpperCase()
    const path = stripApi(url.pathname)
    this.emit('request', method, path)
    if (this.origins.screen(method, req, res)) return
    if (this.faults.answerEndpointFailure(method, path, res)) return
    const reply = await handleHttpRequest(this.http, req, url.pathname, url.searchParams)
    if (!res.destroyed) reply(res)
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    if (this.faults.down || this.faults.refusingSockets || this.closing !== undefined) {
      reset(socket)
      return
    }
    const url = new URL(req.url ?? '/', 'http://simulator')
    const path = stripApi(url.pathname)
    const failure = this.faults.takeEndpointFailure('GET', path)
    const reject = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    }
    if (failure !== undefined) return reject(failure.status, 'Simulated failure')
    if (path !== '/ws') return reject(404, 'Not Found')
    if (this.origins.rejects(req)) return reject(403, 'Forbidden')
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing !== undefined || this.faults.down) {
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
