/** Options of `pod.track$(promptId, options)`, and the common part of `executeWorkflow$`'s. */
export interface TrackPromptOptions {
  /**
   * Minimum time between two `progress` events (leading and trailing edges are both kept). No
   * other event is delayed or dropped, and the final `progress` of 100 is never held back.
   * @default 1000
   */
  readonly progressThrottleMs?: number
  /**
   * Limit for the whole job, from subscription to the end; past it the job fails with
   * `ComfyTimeoutError`. `Infinity` for none.
   * @default 1800000 (30 minutes)
   */
  readonly timeoutMs?: number
  /**
   * Limit for the wait in the pod's queue; past it the prompt is deleted from the queue and the
   * job fails with `ComfyTimeoutError`. `Infinity` for none.
   * @default Infinity
   */
  readonly queueTimeoutMs?: number
  /**
   * Interval of REST polling while the socket is down: `GET /queue`, and `GET /history/{id}`
   * once the queue no longer lists the prompt. Rounds fall on a grid of this interval, so that
   * the jobs of a pod share one `GET /queue`; the wait doubles after each failed poll, up to 30 s.
   * @default 1000
   */
  readonly pollIntervalMs?: number
  /**
   * A job that hears nothing for this long checks the pod over REST; if its prompt is running
   * and the whole socket has been silent as long, the socket is reopened (silent de-registration,
   * protocol §6). Checks fall on a grid of a tenth of it, so that the idle jobs of a pod check
   * together. Keep it above your longest node without progress ticks.
   * @default 60000
   */
  readonly stallTimeoutMs?: number
  /**
   * Aborting it cancels the prompt on the pod (deleted while pending, interrupted by prompt id
   * while running) and fails the job with `ComfyCancelledError` (a `ComfyInterruptedError`).
   * @default none
   */
  readonly signal?: AbortSignal
  /**
   * Cancel the prompt on the pod when the job is unsubscribed before its end.
   * @default false
   */
  readonly cancelOnUnsubscribe?: boolean
  /**
   * Go on over REST (submit, poll) while the socket is not open within the pod's `socketGraceMs`
   * or has been lost. With `false` the job uses the socket alone: it is queued only once the
   * socket is open, and fails with `ComfyConnectionError` when the socket is lost.
   * @default true
   */
  readonly restFallback?: boolean
  /**
   * Follow the prompt over the pod's WebSocket. With `false` the job never uses the socket: it
   * polls `/queue` and `/history` from the start, every `pollIntervalMs` (queued, started and the
   * end, without step progress). For a prompt queued under another client id, whose messages
   * ComfyUI sends to that client alone. Needs `restFallback`.
   * @default true
   */
  readonly socket?: boolean
}
