import packageJson from '../../package.json' with { type: 'json' }
import type { CliContext, CliOutput } from './CliContext.js'
import { ExitCode } from './CliError.js'
import { reportError } from './reportError.js'
import { runCommand } from './runCommand.js'
import { simulateCommand } from './simulateCommand.js'
import { MAIN_USAGE, RUN_USAGE, SIMULATE_USAGE, WATCH_USAGE } from './usage.js'
import { watchCommand } from './watchCommand.js'
import { invalid } from '../internal/optionChecks.js'

/** Options of {@link runCli}: the process's effects, injected so that tests run it in-process. */
export interface RunCliOptions {
  /** Progress, results and NDJSON; `isTTY` picks the redrawn bar or plain lines. */
  readonly stdout: CliOutput
  /** Error messages, and the usage after a usage error. */
  readonly stderr: CliOutput
  /** Where `COMFYUI_URL` is read; pass `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>
  /**
   * The `fetch` of REST calls and image downloads.
   * @default globalThis.fetch
   */
  readonly fetch?: typeof fetch
  /**
   * Aborting it is Ctrl-C: `run` cancels its prompt on the pod and ends with 130, `watch` stops
   * following (the prompt goes on) with 130, `simulate` stops the simulator with 0. `simulate`
   * runs until it aborts.
   * @default none: `simulate` runs for ever
   */
  readonly signal?: AbortSignal
}

const COMMANDS = {
  run: runCommand,
  watch: watchCommand,
  simulate: simulateCommand,
} satisfies Record<string, (args: readonly string[], context: CliContext) => Promise<number>>

const USAGES: Readonly<Record<string, string>> = {
  run: RUN_USAGE,
  watch: WATCH_USAGE,
  simulate: SIMULATE_USAGE,
}

/**
 * The `comfyui-rx` command, in-process: runs `argv` (the arguments after the program name) and
 * resolves with the exit code. Never rejects and never exits the process: every failure is a
 * message on `stderr` and a non-zero code (1 the job or pod failed, 2 bad usage or input, 130
 * stopped by the signal).
 *
 * @example
 * ```ts
 * import { runCli } from 'comfyui-rx/cli'
 *
 * const code = await runCli(['run', 'txt2img.json', '--url', 'http://127.0.0.1:8188', '--json'], {
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   env: process.env,
 * })
 * // {"type":"queued","promptId":"6f1c…","source":"websocket","position":0}
 * // …
 * // {"type":"completed","promptId":"6f1c…","source":"websocket","result":{…}}
 * console.log(code) // 0
 * ```
 * @param argv - e.g. `process.argv.slice(2)`
 * @param options - see `RunCliOptions`
 * @returns the exit code
 * @throws TypeError for invalid options
 */
export async function runCli(argv: readonly string[], options: RunCliOptions): Promise<number> {
  const { stdout, stderr, env, fetch = globalThis.fetch, signal } = options
  for (const [name, output] of Object.entries({ stdout, stderr })) {
    if (typeof output !== 'object' || output === null || typeof output.write !== 'function') {
      throw new TypeError(`${name} must have a write(chunk) method, received ${String(output)}`)
    }
  }
  if (typeof env !== 'object' || env === null) {
    invalid('env', env, 'an object')
  }
  if (typeof fetch !== 'function') throw new TypeError('fetch must be a function')
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, received ${String(signal)}`)
  }
  const context: CliContext = { stdout, stderr, env, fetch, signal }

  const [command, ...args] = argv
  try {
    if (command === undefined) {
      stderr.write(MAIN_USAGE)
      return ExitCode.usage
    }
    if (command === '-h' || command === '--help') {
      stdout.write(MAIN_USAGE)
      return ExitCode.ok
    }
    if (command === 'help') {
      const topic = args[0]
      stdout.write(topic === undefined ? MAIN_USAGE : (USAGES[topic] ?? MAIN_USAGE))
      return topic === undefined || topic in USAGES ? ExitCode.ok : ExitCode.usage
    }
    if (command === '-v' || command === '--version') {
      stdout.write(`${packageJson.version}\n`)
      return ExitCode.ok
    }
    if (Object.hasOwn(COMMANDS, command)) {
      return await COMMANDS[command as keyof typeof COMMANDS](args, context)
    }
    stderr.write(`error: unknown command ${JSON.stringify(command)}\n\n${MAIN_USAGE}`)
    return ExitCode.usage
  } catch (error) {
    return reportError(error, context)
  }
}
