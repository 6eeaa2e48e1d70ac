import { ComfyError } from './ComfyError.js'

/**
 * A progress store could not be read: it is unreachable (not connected within its
 * `readyTimeoutMs`), or it answered with an error. Writes never fail this way (see
 * `ProgressStore.diagnostics$`).
 */
export class ComfyStoreError extends ComfyError {
  override readonly name = 'ComfyStoreError'

  constructor(
    message: string,
    /** What was read: `latest`. */
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
