import { parseArgs } from 'node:util'
import { once } from 'node:events'
import { simulatedComfyVersions } from '../simulator/SimulatedComfyVersion.js'
import { startComfySimulator } from '../simulator/startComfySimulator.js'
import type { CliContext } from './CliContext.js'
import { CliError, ExitCode } from './CliError.js'
import { reportError } from './reportError.js'
import { parseCommandArgs, SIMULATE_USAGE, usageError } from './usage.js'

const OPTIONS = {
  port: { type: 'string', default: '8188' },
  host: { type: 'string', default: '127.0.0.1' },
  'step-ms': { type: 'string', default: '100' },
  'node-ms': { type: 'string', default: '20' },
  'comfy-version': { type: 'string', default: '0.3.64' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/**
 * `comfyui-rx simulate`: a ComfyUI simulator until the signal aborts (Ctrl-C), logging each
 * prompt's way through it.
 */
export async function simulateCommand(
  args: readonly string[],
  context: CliContext,
): Promise<number> {
  const { values, positionals } = parseCommandArgs('simulate', () =>
    parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true }),
  )
  if (values.help) {
    context.stdout.write(SIMULATE_USAGE)
    return ExitCode.ok
  }
  if (positionals.length > 0) {
    throw usageError('simulate', `unexpected argument ${JSON.stringify(positionals[0])}`)
  }
  const port = number(
    '--port',
    values.port,
    'an integer from 0 to 65535',
    (n) => Number.isInteger(n) && n <= 65535,
  )
  const stepDurationMs = number('--step-ms', values['step-ms'], 'a number of milliseconds >= 0')
  const nodeDurationMs = number('--node-ms', values['node-ms'], 'a number of milliseconds >= 0')
  const version = simulatedComfyVersions.find((each) => each === values['comfy-version'])
  if (version === undefined) {
    throw usageError(
      'simulate',
      `--comfy-version must be one of ${simulatedComfyVersions.join(', ')}, received ${JSON.stringify(values['comfy-version'])}`,
    )
  }
  const { stdout, signal } = context
  try {
    let simulator
    try {
      simulator = await startComfySimulator({
        port,
        host: values.host,
        stepDurationMs,
        nodeDurationMs,
        version,
      })
    } catch (cause) {
      throw listenError(cause, values.host, port)
    }
    const short = (promptId: string): string => promptId.slice(0, 8)
    simulator.on('promptQueued', (id) => stdout.write(`prompt ${short(id)} queued\n`))
    simulator.on('promptStarted', (id) => stdout.write(`prompt ${short(id)} started\n`))
    simulator.on('promptFinished', (id, outcome) =>
      stdout.write(`prompt ${short(id)} finished: ${outcome}\n`),
    )
    stdout.write(
      `ComfyUI simulator listening on ${simulator.url}\n` +
        `  comfyui-rx run examples/workflows/txt2img.json --url ${simulator.url}\n` +
        `Ctrl-C to stop.\n`,
    )
    if (signal !== undefined && !signal.aborted) await once(signal, 'abort')
    else if (signal === undefined) await new Promise(() => undefined)
    await simulator.close()
    stdout.write('simulator stopped\n')
    return ExitCode.ok
  } catch (error) {
    return reportError(error, context)
  }
}

function number(
  name: string,
  value: string,
  expected: string,
  valid: (n: number) => boolean = () => true,
): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || !valid(n)) {
    throw usageError('simulate', `${name} must be ${expected}, received ${JSON.stringify(value)}`)
  }
  return n
}

function listenError(cause: unknown, host: string, port: number): CliError {
  const code = (cause as { code?: unknown }).code
  if (code === 'EADDRINUSE') {
    return new CliError(
      `port ${port} on ${host} is already in use: stop what listens there, or pick another ` +
        `port (--port 0 for a free one)`,
      ExitCode.failed,
      { cause },
    )
  }
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new CliError(`cannot listen on ${host}:${port}: ${reason}`, ExitCode.failed, { cause })
}
