import type { NodeOutput } from '../protocol/ComfyMessage.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import type { ViewUrl } from './imagesOf.js'
import type { CostLookup } from './ClassCost.js'
import type { RunTiming } from './RunTiming.js'
import type { ExpectedNode } from './expectedNodes.js'
import type { ProgressActivity } from './JobEvent.js'
import type { NodeState } from './measureProgress.js'
import type { Workflow } from './Workflow.js'

/**
 * Where a job is: `submitting` (POST /prompt not answered), `queued`, `running`, `finishing`
 * (the end was signalled; history confirms it when the socket may not have given every output),
 * `done`.
 */
export type JobPhase = 'submitting' | 'queued' | 'running' | 'finishing' | 'done'

/** The state of one job: everything the reducer needs, nothing derived. */
export interface JobState {
  /** The id the pod uses for the prompt: ours until `POST /prompt` answers with its own. */
  readonly promptId: string
  readonly phase: JobPhase
  readonly queuedEmitted: boolean
  /** Whether the prompt's graph is known (a tracked prompt's comes from the queue). */
  readonly graphKnown: boolean
  /** The nodes expected to run, with their class; cached nodes are removed. */
  readonly expected: readonly ExpectedNode[]
  /** The pod's cost of each class (its `CostModel`): the run's plan starts from it. */
  readonly model: CostLookup
  /** The run's node clocks and cost plan. */
  readonly timing: RunTiming
  readonly cachedNodes: readonly string[]
  readonly nodes: Readonly<Record<string, NodeState>>
  /** Once a `progress_state` has come, it alone drives node states (protocol §4.1). */
  readonly fromProgressState: boolean
  readonly currentNode: string | undefined
  readonly outputs: Readonly<Record<string, NodeOutput>>
  /**
   * Progress is state, not an event: the job builds a `progress` event from it when its throttle
   * lets one through (`progressEvent`), so a message the throttle drops allocates no event.
   * `progressVersion` counts the changes of (progress, totalValue, currentNode).
   */
  readonly progress: number
  readonly totalValue: number
  readonly totalMax: number
  /** How progress last changed. */
  readonly progressSource: JobMethod
  readonly progressVersion: number
  /** Seconds left as of `measuredAt`, when the estimate has a basis. */
  readonly remaining: number | undefined
  readonly activity: ProgressActivity | undefined
  /**
   * When progress was last measured (a message, or the tick of a running job); undefined before
   * the run starts (a number field would cost each waiting job a boxed double).
   */
  readonly measuredAt: number | undefined
  readonly submittedAt: number
  readonly startedAt: number | undefined
  /** The last queue snapshot did not list the prompt; a history without it makes a lost round. */
  readonly absentFromQueue: boolean
  /** Rounds in a row that found the prompt in neither the queue nor history (§5.14). */
  readonly lostRounds: number
  readonly viewUrl: ViewUrl
}

/** Where a prompt stands in `GET /queue`, with its graph when listed. */
export type QueueState =
  | { readonly state: 'pending'; readonly position: number; readonly workflow?: Workflow }
  | { readonly state: 'running'; readonly workflow?: Workflow }
  | { readonly state: 'absent' }

/** What the reducer consumes: the pod's answers, WebSocket messages and REST snapshots. */
export type JobInput =
  | { readonly kind: 'accepted'; readonly at: number; readonly promptId: string }
  | { readonly kind: 'message'; readonly at: number; readonly message: PodMessage }
  /** Time passed: a running job measures its progress again (a node loading moves the bar). */
  | { readonly kind: 'tick'; readonly at: number }
  | {
      readonly kind: 'queue'
      readonly at: number
      readonly source: JobMethod
      readonly queue: QueueState
    }
  | {
      readonly kind: 'history'
      readonly at: number
      readonly source: JobMethod
      /** The prompt's history entry; undefined while `/history/{id}` is `{}` or did not answer. */
      readonly entry: HistoryEntry | undefined
    }
