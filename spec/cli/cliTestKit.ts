import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Workflow } from '../../src/index.js'
import { runCli, type RunCliOptions } from '../../src/cli/runCli.js'
import type { CliOutput } from '../../src/cli/CliContext.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

/** A stdout or stderr that keeps what was written and lets a test wait for a pattern. */
export class Recorder implements CliOutput {
  text = ''
  private waiters: (() => void)[] = []

  constructor(readonly isTTY = false) {}

  write(chunk: string): boolean {
    this.text += chunk
    for (const waiter of this.waiters.splice(0)) waiter()
    return true
  }

  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '')
  }

  /** Resolves with the first match of `pattern` in what was written, once there is one. */
  until(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve) => {
      const check = (): void => {
        const match = this.text.match(pattern)
        if (match === null) this.waiters.push(check)
        else resolve(match)
      }
      check()
    })
  }
}

/** One run of the command, in-process. */
export interface CliRun {
  readonly code: Promise<number>
  readonly stdout: Recorder
  readonly stderr: Recorder
}

export function cli(
  argv: readonly string[],
  options: Partial<Omit<RunCliOptions, 'stdout' | 'stderr'>> & { tty?: boolean } = {},
): CliRun {
  const { tty = false, env = {}, ...rest } = options
  const stdout = new Recorder(tty)
  const stderr = new Recorder()
  return { code: runCli(argv, { stdout, stderr, env, ...rest }), stdout, stderr }
}

/** txt2img with `steps` sampler steps and a random seed (the simulator caches unchanged nodes). */
export function txt2imgWith(steps: number): Workflow {
  const workflow = txt2img as Workflow
  return {
    ...workflow,
    '3': {
      ...workflow['3']!,
      inputs: { ...workflow['3']!.inputs, steps, seed: Math.floor(Math.random() * 2 ** 48) },
    },
  }
}

/** A temporary directory, removed by `cleanup()`. */
export async function tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'comfyui-rx-cli-'))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

/** Writes `content` (JSON-encoded unless a string) to `dir/name`; returns the path. */
export async function writeJson(dir: string, name: string, content: unknown): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2))
  return path
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
