import type { ObservableInput, SchedulerLike } from 'rxjs'
import type { HistoryEntry } from '../protocol/History.js'
import type { JobSocket } from '../socket/PodListener.js'
import type { AlarmClock } from './AlarmClock.js'
import type { CostModel } from './CostModel.js'
import type { FollowedPrompts } from './FollowedPrompts.js'
import type { JobState, QueueState } from './JobState.js'

/** Where a prompt stands: in the queue, or (absent from it) its history entry if it has one. */
export interface PromptLookup {
  readonly queue: QueueState
  readonly entry: HistoryEntry | undefined
}

/** What a job needs from its pod; injected so that every path runs in virtual time in tests. */
export interface JobContext extends JobSocket {
  readonly scheduler: SchedulerLike
  /** The pod's one timer for every job's deadlines and watchdog. */
  readonly alarms: AlarmClock
  /** The pod's cost of each node class: jobs weigh their nodes by it and teach it. */
  readonly costModel: CostModel
  /** The jobs of each prompt, for `pod.cancel` to end them at once. */
  readonly prompts: FollowedPrompts
  /** A fresh prompt id, sent with the prompt (§5.2). */
  newPromptId(): string
  /** Drops the socket and reconnects (a watchdog found it silent). */
  reconnect(): void
  /** Scheduler time of the last frame the socket brought, or -Infinity. */
  lastMessageAt(): number
  /**
   * Where the prompt stands in the pod's queue (a read shared by the jobs asking together); with
   * `graph`, from a read that carries the prompt's graph.
   */
  queueState(promptId: string, graph?: boolean): ObservableInput<QueueState>
  /** The prompt's outcome once it left the queue, as a history entry; undefined while none. */
  getHistory(promptId: string): ObservableInput<HistoryEntry | undefined>
  /**
   * Where the prompt stands, in as few requests as the pod allows: one `GET /api/jobs/{id}` on
   * pods with the Jobs API (a 404 there: in neither the queue nor history), else the queue read
   * and, for a prompt it no longer lists, the history.
   */
  lookUp(promptId: string): ObservableInput<PromptLookup>
  /** Cancels the prompt on the pod, whether pending or running. */
  cancel(promptId: string): ObservableInput<unknown>
  viewUrl: JobState['viewUrl']
}
