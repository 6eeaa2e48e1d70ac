import type { NodeOutput } from '../protocol/ComfyMessage.js'
import type { ComfyUIJobResult, JobMethod } from './ComfyUIJobResult.js'

interface JobEventBase {
  readonly promptId: string
  /** Where the event came from: the pod's WebSocket or REST polling. */
  readonly source: JobMethod
}

/** The prompt is in the pod's queue; `position` 0 runs next. Always the first event. */
export interface JobQueued extends JobEventBase {
  readonly type: 'queued'
  readonly position: number
}

/** The pod began executing the prompt. */
export interface JobStarted extends JobEventBase {
  readonly type: 'started'
}

/** Progress of one node. `percentage` is 0–100. */
export interface NodeProgressSummary {
  readonly value: number
  readonly max: number
  readonly percentage: number
}

/**
 * What the running nodes are doing: `loading` — a node runs and has reported no step yet (a
 * model loading, or a node without steps at work); `stepping` — a node reports steps.
 */
export type ProgressActivity = 'loading' | 'stepping'

/**
 * Overall progress over the nodes expected to run (cached nodes excluded), by expected time: the
 * share of the run's time that has passed, against the pod's learnt cost of each node (see
 * `CostModel`). Monotonic, below 100 until the prompt has completed, then exactly one event of
 * 100 right before `completed` (protocol §4).
 */
export interface JobProgress extends JobEventBase {
  readonly type: 'progress'
  /** 0–100, one decimal. */
  readonly progress: number
  /** Every node expected to run, by node id. */
  readonly nodes: Readonly<Record<string, NodeProgressSummary>>
  /** Σ value over the expected nodes (a node not yet started counts 0 of 1). */
  readonly totalValue: number
  /** Σ max over the expected nodes. */
  readonly totalMax: number
  /** The node executing now, when known. */
  readonly currentNode?: string
  /**
   * Seconds left: the expected time of the work left, from the pod's cost model and the steps
   * seen, corrected by this run's speed against the model; absent until it has a basis (classes
   * the pod has run before, or a node's step rate).
   */
  readonly estimatedTimeRemaining?: number
  /** What the running nodes are doing; absent between nodes and at the end. */
  readonly activity?: ProgressActivity
}

/** A preview image sent while a node (typically a sampler) runs. */
export interface JobPreview extends JobEventBase {
  readonly type: 'preview'
  /** The node it came from, when known. */
  readonly node?: string
  readonly mime: string
  readonly image: Uint8Array
}

/** An output node finished with UI output (null for a cached output with nothing cached). */
export interface JobNodeExecuted extends JobEventBase {
  readonly type: 'node_executed'
  readonly node: string
  readonly output: NodeOutput | null
}

/** The prompt completed; the last event. */
export interface JobCompleted extends JobEventBase {
  readonly type: 'completed'
  readonly result: ComfyUIJobResult
}

/** Everything `executeWorkflow$` emits. Failures are Observable errors, not events. */
export type JobEvent =
  JobQueued | JobStarted | JobProgress | JobPreview | JobNodeExecuted | JobCompleted
