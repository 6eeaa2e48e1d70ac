import { ComfyError } from './ComfyError.js'

/**
 * The pod's WebSocket could not be opened, or was lost and could not be re-established, or the
 * pod was closed. `url` carries no credentials.
 */
export class ComfyConnectionError extends ComfyError {
  override readonly name = 'ComfyConnectionError'

  constructor(
    message: string,
    /** The WebSocket URL, without credentials. */
    readonly url: string,
    /** Why: `refused`, `timeout`, `closed`, `pod_closed`, … */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
