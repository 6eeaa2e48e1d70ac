import type { IncomingMessage } from 'node:http'
import type { FileStore } from './FileStore.js'
import type { Reply } from './Reply.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { SimulatorRuntime } from './SimulatorRuntime.js'

/** What the routes read and change. */
export interface HttpContext {
  readonly version: SimulatedComfyVersion
  readonly runtime: () => SimulatorRuntime
  readonly files: FileStore
  readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  readonly models: SimulatedModels
  readonly maxUploadSize: number
  readonly argv: readonly string[]
  readonly serverFeatures: () => Record<string, unknown>
  readonly queued: (promptId: string) => void
}

/** What a route handler gets: `param` is the path's capture group, decoded. */
export interface RouteArgs {
  readonly ctx: HttpContext
  readonly req: IncomingMessage
  readonly query: URLSearchParams
  readonly param: string
}

export type Handler = (args: RouteArgs) => Reply | Promise<Reply>

/** One entry of server.py's route table: a path and its handlers by method. */
export type Route = readonly [path: RegExp, handlers: Readonly<Record<string, Handler>>]
