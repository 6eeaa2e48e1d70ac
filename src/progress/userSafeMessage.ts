import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import { ComfyValidationError } from '../errors/ComfyValidationError.js'

/**
 * A message about a failed job that is safe to show users: one fixed sentence per `ComfyError`
 * class. The errors' own messages are for logs: they carry node ids, Python exceptions, file paths
 * and URLs.
 *
 * @example
 * ```ts
 * import { ComfyTimeoutError, userSafeMessage } from 'comfyui-rx'
 *
 * userSafeMessage(new ComfyTimeoutError('p1', 60_000))
 * // 'The image took too long to generate and was stopped.'
 * ```
 * @param error - what the job failed with
 * @returns one sentence, without any detail of the error
 */
export function userSafeMessage(error: unknown): string {
  if (error instanceof ComfyValidationError)
    return 'The workflow is not valid for this server, so it was not run.'
  if (error instanceof ComfyExecutionError) return 'A step of the workflow failed on the server.'
  if (error instanceof ComfyInterruptedError) return 'The job was cancelled.'
  if (error instanceof ComfyTimeoutError) {
    return error.phase === 'queue'
      ? 'The server was too busy to start the job in time.'
      : 'The image took too long to generate and was stopped.'
  }
  if (error instanceof ComfyPromptLostError)
    return 'The job was lost (the image server may have restarted).'
  if (error instanceof ComfyAuthError) return 'The image server refused access.'
  if (error instanceof ComfyConnectionError) return 'The connection to the image server was lost.'
  if (error instanceof ComfyHttpError)
    return 'The image server could not be reached or answered with an error.'
  return 'Something went wrong while generating the image.'
}
