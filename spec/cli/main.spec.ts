import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { tempDir, txt2imgWith, writeJson } from './cliTestKit.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli')

let sim: ComfySimulator
let dir: Awaited<ReturnType<typeof tempDir>>
const children: ChildProcess[] = []

beforeEach(async () => {
  sim = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
  dir = await tempDir()
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  await sim.close()
  await dir.cleanup()
})

/** `tsx src/cli/main.ts …args` in a child process: the bin as a user runs it. */
function bin(args: readonly string[]) {
  const child = spawn(process.execPath, [tsxCli, 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, COMFYUI_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    exit,
    stdout: () => stdout,
    stderr: () => stderr,
    until: (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!pattern.test(stdout)) return
          child.stdout.off('data', check)
          resolve()
        }
        child.stdout.on('data', check)
        check()
      }),
  }
}

describe('the comfyui-rx bin (tsx src/cli/main.ts)', () => {
  it('runs a workflow, prints the image URL and exits with 0', async () => {
    const file = await writeJson(dir.path, 'txt2img.json', txt2imgWith(4))
    const run = bin(['run', file, '--url', sim.url])
    expect(await run.exit).toBe(0)
    expect(run.stderr()).toBe('')
    expect(run.stdout()).toContain(
      `${sim.url}/view?filename=ComfyUI_00001_.png&subfolder=&type=output\n`,
    )
  })

  it('exits with 2 and a clear message for a missing workflow file', async () => {
    const run = bin(['run', 'no-such-workflow.json', '--url', sim.url])
    expect(await run.exit).toBe(2)
    expect(run.stderr()).toBe('error: workflow file not found: no-such-workflow.json\n')
  })

  it('stops the simulator on SIGINT and exits with 0', async () => {
    const simulate = bin(['simulate', '--port', '0'])
    await simulate.until(/listening on http:\/\/127\.0\.0\.1:\d+\n/)
    simulate.child.kill('SIGINT')
    expect(await simulate.exit).toBe(0)
    expect(simulate.stdout()).toMatch(/simulator stopped\n$/)
  })
})
