import type { ProgressActivity } from '../job/JobEvent.js'

/**
 * Where a prompt stands, as a browser shows it: `queued` → `processing` → `completed` | `failed`.
 * It never goes back; `completed` and `failed` are final.
 */
export type ProgressStatus = 'queued' | 'processing' | 'completed' | 'failed'

/** An output image of a completed prompt. */
export interface ProgressImage {
  readonly filename: string
  readonly subfolder: string
  /** `output` (SaveImage), `temp` (PreviewImage) or `input`. */
  readonly type: string
  /**
   * A URL the browser can load, when the server gave one (`ProgressUpdateOptions.imageUrl`). Never
   * the pod's own `/view` URL by default: pods are rarely reachable from browsers, and their URL
   * may carry credentials.
   */
  readonly url?: string
}

/**
 * The state of one prompt, as sent to browsers (the `data:` of each Server-Sent Event): a small,
 * user-facing summary of the job's events, safe to show.
 *
 * @example
 * ```ts
 * import type { ProgressUpdate } from 'comfyui-rx'
 *
 * const update: ProgressUpdate = {
 *   promptId: '0b0f6f38-5bd1-4c8c-9d3e-5c1f0f6f0a11',
 *   status: 'processing',
 *   progress: 45,
 *   estimatedTimeRemaining: 3.2,
 *   activity: 'stepping',
 * }
 * ```
 */
export interface ProgressUpdate {
  readonly promptId: string
  readonly status: ProgressStatus
  /** 0–100, monotonic; 100 once `completed`; where it stopped once `failed`. */
  readonly progress: number
  /** Seconds left while `processing`, once the job could estimate it. */
  readonly estimatedTimeRemaining?: number
  /**
   * While `processing`: `loading` when a node runs and has reported no step yet (show "loading
   * model…"), `stepping` when a node reports steps; absent between nodes.
   */
  readonly activity?: ProgressActivity
  /** While `queued`: how many prompts run before this one (0: next). */
  readonly queuePosition?: number
  /** Once `completed`: every output image, in node order. */
  readonly images?: readonly ProgressImage[]
  /** Once `failed`: a message safe to show users (no paths, tracebacks, URLs or credentials). */
  readonly message?: string
  /** Once `failed`: the error's class name (`ComfyExecutionError`, …), for code, not for users. */
  readonly errorName?: string
}
