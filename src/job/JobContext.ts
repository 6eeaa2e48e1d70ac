import type { ObservableInput, SchedulerLike } from 'rxjs'
import type { ConnectionState } from '../pod/ConnectionState.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { AlarmClock } from './AlarmClock.js'
import type { JobState, QueueState } from './reduceJob.js'

/** What the pod tells a job; the job itself, so that an idle job costs no closures. */
export interface PodListener {
  /** A message of a prompt routed to this listener. */
  message(message: PodMessage): void
  /** The socket's state: the current one when attached, then every change. */
  connection(state: ConnectionState): void
  /**
   * The socket is gone: `ComfyConnectionError` when lost (tried again every `socketRetryMs`
   * while anyone is attached), or an error no retry gets past (`ComfyAuthError`, the pod closed).
   */
  lost(error: unknown): void
}

/**
 * How jobs share their pod's socket: one subscription for every attached listener, messages
 * routed by prompt id in O(1).
 */
export interface JobSocket {
  /** Keeps the socket open for `listener` and reports its state and its loss to it. */
  attach(listener: PodListener): void
  detach(listener: PodListener): void
  /** Delivers the messages of `promptId` to `listener`, those that came before it included. */
  route(promptId: string, listener: PodListener): void
  unroute(promptId: string, listener: PodListener): void
}

/** What a job needs from its pod; injected so that every path runs in virtual time in tests. */
export interface JobContext extends JobSocket {
  readonly scheduler: SchedulerLike
  /** The pod's one timer for every job's deadlines and watchdog. */
  readonly alarms: AlarmClock
  /** A fresh prompt id, sent with the prompt (§5.2). */
  newPromptId(): string
  /** Drops the socket and reconnects (a watchdog found it silent). */
  reconnect(): void
  /** Scheduler time of the last frame the socket brought, or -Infinity. */
  lastMessageAt(): number
  /** Where the prompt stands in `GET /queue`. */
  queueState(promptId: string): ObservableInput<QueueState>
  /** `GET /history/{id}`: the entry, or undefined while there is none. */
  getHistory(promptId: string): ObservableInput<HistoryEntry | undefined>
  /** Cancels the prompt on the pod, whether pending or running. */
  cancel(promptId: string): ObservableInput<void>
  viewUrl: JobState['viewUrl']
}
