import type { FileStore } from './FileStore.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { SocketHub } from './SocketHub.js'

/** A node failure injected by the `failNode` fault control. */
export interface InjectedFailure {
  readonly message: string
  readonly exceptionType: string
  readonly afterSteps: number | undefined
}

/** Outputs and UI dicts kept between prompts, by cache signature (ComfyUI's classic cache). */
export interface ExecutionCache {
  readonly outputs: Map<string, readonly unknown[]>
  readonly ui: Map<string, CachedUi>
}

/** A node's UI dict, and the `meta` its history entry gives it. */
export interface CachedUi {
  readonly output: unknown
  readonly meta: unknown
}

/** Everything executing a prompt touches. */
export interface ExecutionEnv {
  readonly version: SimulatedComfyVersion
  readonly hub: SocketHub
  readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  readonly files: FileStore
  readonly cache: ExecutionCache
  readonly cacheEnabled: boolean
  readonly nodeDurationMs: number
  readonly stepDurationMs: number
  readonly previews: boolean
  readonly interrupt: { requested: boolean }
  /** server.client_id and server.last_node_id: read by the on-connect `executing` replay. */
  readonly current: { clientId: string | null; lastNodeId: string | null }
  sleep(ms: number): Promise<void>
  /** Whether the simulator stopped or restarted since this prompt began. */
  aborted(): boolean
  takeFailure(nodeId: string, classType: string): InjectedFailure | undefined
}
