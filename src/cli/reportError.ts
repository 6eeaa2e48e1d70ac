import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyError } from '../errors/ComfyError.js'
import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { ComfyValidationError } from '../errors/ComfyValidationError.js'
import type { CliContext } from './CliContext.js'
import { CliError, ExitCode } from './CliError.js'

/**
 * Tells the user what went wrong, on stderr, and with `--json` also as the last NDJSON line on
 * stdout (`{"type":"error",…}`), so that a consumer of the stream sees how it ended.
 *
 * @returns the exit code
 */
export function reportError(error: unknown, context: CliContext, json = false): number {
  const { message, exitCode } = describeError(error)
  if (json) {
    const name = error instanceof Error ? error.name : 'Error'
    const promptId = (error as { promptId?: unknown } | undefined)?.promptId
    context.stdout.write(
      `${JSON.stringify({
        type: 'error',
        name,
        message,
        exitCode,
        ...(typeof promptId === 'string' ? { promptId } : {}),
      })}\n`,
    )
  }
  context.stderr.write(`error: ${message}\n`)
  return exitCode
}

function describeError(error: unknown): { message: string; exitCode: number } {
  const failed = (message: string) => ({ message, exitCode: ExitCode.failed })
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode }
  if (error instanceof ComfyValidationError) {
    return failed(`the pod rejected the workflow: ${error.message}`)
  }
  if (error instanceof ComfyExecutionError) {
    return failed(`prompt ${error.promptId} failed: ${error.message}`)
  }
  if (error instanceof ComfyAuthError) {
    return failed(
      `${error.message}: pass credentials with --header "Authorization: Bearer …" or in the URL ` +
        `(http://user:password@host:port)`,
    )
  }
  if (error instanceof ComfyConnectionError) {
    return failed(`lost the pod's WebSocket: ${error.message}`)
  }
  if (error instanceof ComfyHttpError && error.status === 0) {
    return failed(`the pod stopped answering: ${error.message}`)
  }
  if (error instanceof ComfyError) return failed(error.message)
  // Not one of ours: a bug, worth its stack.
  return failed(
    error instanceof Error ? `unexpected ${error.stack ?? error.message}` : String(error),
  )
}
