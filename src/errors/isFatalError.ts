import { ComfyAuthError } from './ComfyAuthError.js'
import { ComfyConnectionError } from './ComfyConnectionError.js'

/**
 * An error no retry gets past: the pod refused the credentials, or it was closed. Anything else
 * (a lost socket, a 500, a timeout) a later attempt may overcome.
 */
export function isFatalError(error: unknown): boolean {
  return (
    error instanceof ComfyAuthError ||
    (error instanceof ComfyConnectionError && error.reason === 'pod_closed')
  )
}
