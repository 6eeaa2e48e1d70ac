import type { SchedulerLike } from 'rxjs'
import type { WebSocketFactory } from './WebSocketFactory.js'

/**
 * What the socket pipeline takes from the pod's options (`ComfyPodOptions`, where each is
 * documented and gets its default), every one given.
 */
export interface SocketSettings {
  readonly headers: Readonly<Record<string, string>>
  readonly webSocketFactory: WebSocketFactory
  readonly connectTimeoutMs: number
  readonly maxReconnectAttempts: number
  readonly reconnectDelayMs: number
  readonly maxReconnectDelayMs: number
  readonly pingIntervalMs: number
  readonly pongTimeoutMs: number
  readonly scheduler: SchedulerLike
  readonly random: () => number
}
