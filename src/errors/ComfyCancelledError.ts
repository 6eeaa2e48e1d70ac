import { ComfyInterruptedError } from './ComfyInterruptedError.js'

/** Where a cancelled prompt was when it was cancelled. */
export type CancelledPhase = 'pending' | 'running'

/**
 * The prompt was cancelled through this client — `pod.cancel(promptId)`, the job's `signal`, or
 * `cancelOnUnsubscribe` — and its job ended at once: deleted from the queue while `pending`,
 * interrupted while `running`. A `ComfyInterruptedError`, so code that handles interruptions
 * handles it too.
 *
 * @example
 * ```ts
 * import { ComfyCancelledError } from 'comfyui-rx'
 *
 * pod.executeWorkflow$(workflow).subscribe({
 *   error: (error) => {
 *     if (error instanceof ComfyCancelledError) console.log(error.phase) // 'pending'
 *   },
 * })
 * await pod.cancel(promptId)
 * ```
 */
export class ComfyCancelledError extends ComfyInterruptedError {
  override readonly name = 'ComfyCancelledError'

  constructor(
    promptId: string,
    /** `pending`: deleted from the queue before it ran; `running`: interrupted. */
    readonly phase: CancelledPhase,
  ) {
    super({ prompt_id: promptId })
    this.message = `prompt ${promptId} was cancelled while ${phase}`
  }
}
