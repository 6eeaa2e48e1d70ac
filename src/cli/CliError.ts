/** Exit codes of the `comfyui-rx` command. */
export const ExitCode = {
  /** The command did what it was asked. */
  ok: 0,
  /** The job failed, or the pod could not be reached or refused the request. */
  failed: 1,
  /** Bad usage or input: unknown command or option, unreadable or invalid workflow file. */
  usage: 2,
  /** Stopped by the user (Ctrl-C); a prompt started by `run` was cancelled on the pod. */
  cancelled: 130,
} as const

/**
 * A failure of the command itself, already worded for the terminal. Not a `ComfyError`: it never
 * leaves `runCli`, which turns it into a message on stderr and an exit code.
 */
export class CliError extends Error {
  override readonly name = 'CliError'

  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
