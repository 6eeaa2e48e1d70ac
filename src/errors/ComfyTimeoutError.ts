import { ComfyError } from './ComfyError.js'

/** The job did not end within its `timeoutMs`. */
export class ComfyTimeoutError extends ComfyError {
  override readonly name = 'ComfyTimeoutError'

  constructor(
    /** The prompt, when it had been queued. */
    readonly promptId: string | undefined,
    /** The limit that was passed. */
    readonly timeoutMs: number,
  ) {
    super(`job${promptId === undefined ? '' : ` ${promptId}`} did not end within ${timeoutMs} ms`)
  }
}
