/** Options of `pod.executeWorkflow$(workflow, options)`. */
export interface ExecuteWorkflowOptions {
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
   * Aborting it cancels the prompt on the pod (deleted while pending, interrupted by prompt id
   * while running) and fails the job with `ComfyInterruptedError`.
   * @default none
   */
  readonly signal?: AbortSignal
  /**
   * `extra_data` sent with the prompt (e.g. `{extra_pnginfo: {workflow}}`); `client_id` is set
   * by the pod.
   * @default {}
   */
  readonly extraData?: Readonly<Record<string, unknown>>
  /**
   * Put the prompt at the front of the pod's queue.
   * @default false
   */
  readonly front?: boolean
}
