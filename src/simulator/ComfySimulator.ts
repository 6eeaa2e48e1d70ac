import type { EventEmitter } from 'node:events'
import type { Server } from 'node:http'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'

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
 * 0.3.64 or 0.33 (see `ComfySimulatorOptions.version`), with inspection and fault controls for
 * tests.
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
