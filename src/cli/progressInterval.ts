import type { CliContext } from './CliContext.js'
import { usageError } from './usage.js'

/**
 * `--progress-interval`: the job's `progressThrottleMs`. A terminal redraws the bar in place and
 * can take it often; logs and NDJSON consumers get one line per update.
 *
 * @throws CliError with exit code 2 for a value that is not a number >= 0
 */
export function progressInterval(
  command: string,
  value: string | undefined,
  context: CliContext,
  json: boolean,
): number {
  if (value === undefined) return !json && context.stdout.isTTY === true ? 100 : 1000
  const ms = Number(value)
  if (value.trim() === '' || !Number.isFinite(ms) || ms < 0) {
    throw usageError(
      command,
      `--progress-interval must be a number of milliseconds >= 0, received ${JSON.stringify(value)}`,
    )
  }
  return ms
}
