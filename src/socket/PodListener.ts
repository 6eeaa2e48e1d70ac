import type { PodMessage } from '../protocol/decodeFrame.js'
import type { ConnectionState } from './ConnectionState.js'

/** What the pod tells a job; the job itself, so that an idle job costs no closures. */
export interface PodListener {
  /** A message of a prompt routed to this listener. */
  message(message: PodMessage): void
  /**
   * The socket's state: the current one when attached, then every change; `overdue` once it has
   * not been open for the pod's `socketGraceMs` (told again with the same state when it becomes so).
   */
  connection(state: ConnectionState, overdue: boolean): void
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
