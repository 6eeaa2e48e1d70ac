import type { TrackPromptOptions } from './TrackPromptOptions.js'

/** Options of `pod.executeWorkflow$(workflow, options)`. */
export interface ExecuteWorkflowOptions extends TrackPromptOptions {
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
  /**
   * The prompt id to ask of the pod (servers from 0.3.45 use it; older ones pick their own, and
   * the events carry theirs). Known before anything is sent, so that a caller can record the job
   * first. Never reuse one.
   * @default a random UUID
   */
  readonly promptId?: string
}
