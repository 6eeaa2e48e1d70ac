import type { NodeOutput } from '../protocol/ComfyMessage.js'

/** An image a node produced, with the `/view` URL that serves it. */
export interface ComfyImage {
  readonly filename: string
  readonly subfolder: string
  /** `output` (SaveImage), `temp` (PreviewImage) or `input`. */
  readonly type: string
  /** The pod's `/view` URL for this image. */
  readonly url: string
}

/** How a job's outcome was observed. */
export type JobMethod = 'websocket' | 'rest_polling'

/** The outcome of a job. */
export interface ComfyUIJobResult {
  readonly promptId: string
  /** `completed` for a job that ended well; the other states are those of a job still under way. */
  readonly status: 'queued' | 'processing' | 'completed' | 'failed'
  /** Every image of every output node, in node order. */
  readonly images: readonly ComfyImage[]
  /** The UI output of every output node, by node id (from `/history` when it answered). */
  readonly outputs: Readonly<Record<string, NodeOutput>>
  /** From subscription to completion, in ms of the job's scheduler. */
  readonly durationMs: number
  /** Whether the end was seen on the WebSocket or by REST polling. */
  readonly method: JobMethod
  /** How many `progress` events were delivered to the subscriber. */
  readonly progressUpdates: number
}
