import type { ObservableInput, SchedulerLike } from 'rxjs'
import type { ConnectionState } from '../pod/ConnectionState.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { AlarmClock } from './AlarmClock.js'
import type { FollowedPrompts } from './FollowedPrompts.js'
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
  /**
   * The pod's queue got shorter (`status` with a lower `queue_remaining`): a prompt finished, or
   * one was deleted, which ComfyUI announces no other way. Rate-limited by the pod.
   */
  queueShrank(): void
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
  /** The jobs of each prompt, for `pod.cancel` to end them at once. */
  readonly prompts: FollowedPrompts
  /** How long a job waits for the socket to be open before it goes on over REST. */
  readonly socketGraceMs: number
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
  /** Cancels the prompt on the pod, whether pending or running. */
  cancel(promptId: string): ObservableInput<unknown>
  viewUrl: JobState['viewUrl']
}
