import { randomUUID } from 'node:crypto'
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import WebSocket from 'ws'
import { invalid, nonNegative, nonNegativeInteger, positive } from '../internal/optionChecks.js'
import { CostModel } from '../job/CostModel.js'
import type { WebSocketFactory } from '../socket/WebSocketFactory.js'

/** Options of `new ComfyPod(url, options)`. */
export interface ComfyPodOptions {
  /**
   * The id this client registers under on the pod; per-prompt messages go only to it. Two
   * clients must never share one. Reuse it to re-attach to prompts after a restart.
   * @default a random UUID
   */
  readonly clientId?: string
  /**
   * Headers sent with every REST call and on the WebSocket handshake (e.g. `Authorization`).
   * They never appear in errors or diagnostics.
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * How long opening the WebSocket may take before the attempt counts as failed.
   * @default 10000
   */
  readonly connectTimeoutMs?: number
  /**
   * How long a job waits for the socket to be open — before its prompt is sent, or after the
   * socket dropped — before it goes on over REST (submits, polls on the pod's shared grid) while
   * the pod keeps trying the socket. Once the socket opens, the job returns to it after one
   * reconcile round.
   * @default 1000
   */
  readonly socketGraceMs?: number
  /**
   * Reconnect attempts after the socket fails or drops, before the pod gives up: `messages$`
   * errors with `ComfyConnectionError`. The count starts over once a connection opens and
   * delivers a frame (one that opens and drops at once counts as a failure). With the defaults the pod gives up within 1.75–3.5 s on a refused socket; its jobs are on REST by then
   * (`socketGraceMs`), and the pod tries the socket again every `maxReconnectDelayMs`.
   * @default 3
   */
  readonly maxReconnectAttempts?: number
  /**
   * Base delay of the reconnect backoff: attempt n waits a random time in
   * [0.5, 1] × min(maxReconnectDelayMs, reconnectDelayMs × 2^(n−1)).
   * @default 500
   */
  readonly reconnectDelayMs?: number
  /**
   * Cap of the reconnect backoff; also how long after the pod gave up on its socket it tries
   * again, while jobs still follow their prompts (over REST meanwhile).
   * @default 30000
   */
  readonly maxReconnectDelayMs?: number
  /**
   * A WebSocket ping is sent when the socket has carried nothing for this long. ComfyUI never
   * pings but answers pings (§1.5); the pings keep idle proxies from cutting the socket and let
   * the pod tell a quiet pod (it answers) from a dead connection (it does not, `pongTimeoutMs`).
   * @default 1000
   */
  readonly pingIntervalMs?: number
  /**
   * How long the pod waits for anything — the pong or any frame — after a ping. Past it the
   * connection is taken as dead (a frozen proxy or NAT entry: TCP open, nothing forwarded) and
   * replaced; its state shows `reconnecting` with reason `stalled`.
   * @default 2000
   */
  readonly pongTimeoutMs?: number
  /**
   * How long the socket stays open after the last listener has gone, so that back-to-back jobs
   * share one connection.
   * @default 5000
   */
  readonly idleCloseMs?: number
  /**
   * Limit of each REST call.
   * @default 30000
   */
  readonly requestTimeoutMs?: number
  /**
   * The `fetch` used for REST calls.
   * @default globalThis.fetch
   */
  readonly fetch?: typeof fetch
  /**
   * Creates the WebSocket.
   * @default a `ws` WebSocket with `headers` and `binaryType = 'arraybuffer'`
   */
  readonly webSocketFactory?: WebSocketFactory
  /**
   * Scheduler of every timer (timeouts, backoff, pings, idle close, throttling).
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
  /**
   * Source of randomness for the backoff jitter, in [0, 1).
   * @default Math.random
   */
  readonly random?: () => number
  /**
   * How long each node class takes on this pod, learnt from its jobs: it weighs progress and
   * estimates the time left. Give one model to pods of the same hardware, or start it from costs
   * saved earlier or shared by other instances (`shareCostModel`).
   * @default a new CostModel of this pod alone, starting from priors
   */
  readonly costModel?: CostModel
}

export type { WebSocketFactory }

/** The options with every default applied. */
export type ResolvedPodOptions = Required<ComfyPodOptions>

const defaultWebSocketFactory: WebSocketFactory = (url, { headers }) =>
  new WebSocket(url, {
    headers,
    maxPayload: 256 * 1024 * 1024,
  }) as unknown as ReturnType<WebSocketFactory>

/** Applies the defaults and validates every option; throws a `TypeError` naming the option. */
export function resolvePodOptions(options: ComfyPodOptions): ResolvedPodOptions {
  const {
    clientId = randomUUID(),
    headers = {},
    connectTimeoutMs = 10_000,
    socketGraceMs = 1_000,
    maxReconnectAttempts = 3,
    reconnectDelayMs = 500,
    maxReconnectDelayMs = 30_000,
    pingIntervalMs = 1_000,
    pongTimeoutMs = 2_000,
    idleCloseMs = 5_000,
    requestTimeoutMs = 30_000,
    fetch = globalThis.fetch,
    webSocketFactory = defaultWebSocketFactory,
    scheduler = asyncScheduler,
    random = Math.random,
    costModel = new CostModel(),
  } = options
  if (typeof clientId !== 'string' || clientId === '')
    invalid('clientId', clientId, 'a non-empty string')
  if (typeof headers !== 'object' || headers === null) invalid('headers', headers, 'an object')
  positive('connectTimeoutMs', connectTimeoutMs)
  nonNegative('socketGraceMs', socketGraceMs)
  nonNegativeInteger('maxReconnectAttempts', maxReconnectAttempts)
  nonNegative('reconnectDelayMs', reconnectDelayMs)
  nonNegative('maxReconnectDelayMs', maxReconnectDelayMs)
  positive('pingIntervalMs', pingIntervalMs)
  positive('pongTimeoutMs', pongTimeoutMs)
  nonNegative('idleCloseMs', idleCloseMs)
  positive('requestTimeoutMs', requestTimeoutMs)
  if (typeof fetch !== 'function') invalid('fetch', fetch, 'a function')
  if (typeof webSocketFactory !== 'function')
    invalid('webSocketFactory', webSocketFactory, 'a function')
  if (typeof random !== 'function') invalid('random', random, 'a function')
  if (!(costModel instanceof CostModel)) invalid('costModel', costModel, 'a CostModel')
  return {
    clientId,
    headers,
    connectTimeoutMs,
    socketGraceMs,
    maxReconnectAttempts,
    reconnectDelayMs,
    maxReconnectDelayMs,
    pingIntervalMs,
    pongTimeoutMs,
    idleCloseMs,
    requestTimeoutMs,
    fetch,
    webSocketFactory,
    scheduler,
    random,
    costModel,
  }
}
