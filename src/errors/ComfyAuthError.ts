import { ComfyError } from './ComfyError.js'

/**
 * The pod refused this client's credentials (401 or 403, on the WebSocket upgrade or a REST call).
 * Nothing is retried: retrying would not change the answer. `url` carries no credentials.
 */
export class ComfyAuthError extends ComfyError {
  override readonly name = 'ComfyAuthError'

  constructor(
    /** The URL that answered, without credentials. */
    readonly url: string,
    /** 401 or 403. */
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(`${url} refused the credentials (${status})`, options)
  }
}
