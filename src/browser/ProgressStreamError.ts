import { ComfyError } from '../errors/ComfyError.js'

/**
 * The browser's event stream failed for good: the server answered with an error status (404 for
 * an unknown prompt, …) or not with `text/event-stream`, so `EventSource` gave up reconnecting.
 */
export class ProgressStreamError extends ComfyError {
  override readonly name = 'ProgressStreamError'

  constructor(
    /** The URL of the event stream. */
    readonly url: string,
  ) {
    super(`the progress stream ${url} closed and will not reconnect`)
  }
}
