import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyError } from '../errors/ComfyError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'

/**
 * @internal Whether a new attempt may overcome a job's failure: the pod lost the prompt (a
 * restart), could not be reached, or answered 5xx; or the worker failed outside the library (its
 * Redis). Never a validation error, a node's error, an interruption, a timeout or bad
 * credentials: the same workflow would fail the same way.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ComfyPromptLostError || error instanceof ComfyConnectionError) return true
  if (error instanceof ComfyHttpError) return error.status >= 500
  return !(error instanceof ComfyError) && !(error instanceof TypeError)
}
