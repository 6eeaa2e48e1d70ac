/** Options of `pod.queueWorkflow(workflow, options)`. */
export interface QueueWorkflowOptions {
  /**
   * The prompt id to ask for (servers from 0.3.45 use it; older ones pick their own, which is
   * the one returned): a lower-case hyphenated UUID, as ComfyUI 0.25+ requires.
   * @default a random UUID
   */
  readonly promptId?: string
  /**
   * `extra_data` of the prompt; `client_id` is always the pod's.
   * @default {}
   */
  readonly extraData?: Readonly<Record<string, unknown>>
  /**
   * Put the prompt at the front of the queue.
   * @default false
   */
  readonly front?: boolean
}
