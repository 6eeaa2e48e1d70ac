import { ComfyError } from './ComfyError.js'

/**
 * A REST call to the pod failed: an error status, a body that is not what ComfyUI sends, or a
 * request that could not be made at all (`status` 0). `url` carries no credentials.
 */
export class ComfyHttpError extends ComfyError {
  override readonly name = 'ComfyHttpError'

  constructor(
    message: string,
    /** `GET`, `POST`, … */
    readonly method: string,
    /** The URL called, without credentials. */
    readonly url: string,
    /** The HTTP status; 0 when no answer came (refused, reset, timed out). */
    readonly status: number,
    /** The answer's body, as text (truncated), when there was one. */
    readonly body?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
