import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The tarball as users get it: `npm pack` (its prepack builds dist/), installed with npm into a
// project of its own, used from there by `node` through `import` and through `require`, and
// type-checked by a consumer of each kind.

const root = fileURLToPath(new URL('../../', import.meta.url))
const probes = fileURLToPath(new URL('probe/', import.meta.url))
/** The peers the probes load, at the versions this repository tests with (in the npm cache). */
const peers = ['rxjs', 'ioredis', 'bullmq', 'posthog-node']

interface ProbeResult {
  /** The names each entry point exports. */
  readonly exported: Readonly<Record<string, readonly string[]>>
  readonly [error: string]: unknown
}

let project = ''
let dist = ''
const results = new Map<string, ProbeResult>()
let typeErrors: string[] = []
let binVersion = ''

/** Runs a command to its end; fails with its output. */
function run(command: string, args: readonly string[], cwd: string, timeout: number) {
  return new Promise<string>((resolve, reject) => {
    execFile(command, args, { cwd, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`))
    })
  })
}

/** The files under `dir`, relative to it. */
async function filesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
}

async function versionOf(name: string): Promise<string> {
  const manifest = await readFile(join(root, 'node_modules', name, 'package.json'), 'utf8')
  return (JSON.parse(manifest) as { version: string }).version
}

async function probe(file: string): Promise<void> {
  const output = await run(process.execPath, [file], project, 20_000)
  results.set(file, JSON.parse(output) as ProbeResult)
}

/** One consumer source, compiled as ESM (.mts) and as CommonJS (.cts). */
const consumer = `import { ComfyError, ComfyPod, type ProgressStore } from 'comfyui-rx'
import { posthogSink } from 'comfyui-rx/analytics'
import { ProgressStreamError, progressUpdates$ } from 'comfyui-rx/browser'
import { runCli } from 'comfyui-rx/cli'
import { startComfySimulator } from 'comfyui-rx/simulator'
import { RedisProgressStore } from 'comfyui-rx/store'
import { ComfyJobQueue, type QueueJobOptions } from 'comfyui-rx/queue'

export const queueJob: QueueJobOptions = { jobId: 'order-42', attempts: 3 }
export const store: ProgressStore = new RedisProgressStore('redis://127.0.0.1:6379')
export const error: ComfyError = new ProgressStreamError('http://127.0.0.1/progress/p1')
export const used = [ComfyPod, ComfyJobQueue, posthogSink, progressUpdates$, runCli, startComfySimulator]
`

/** The errors of tsc, but those in other packages' declarations (posthog-node names express). */
async function typeCheck(): Promise<string[]> {
  await writeFile(join(project, 'consumer.mts'), consumer)
  await writeFile(join(project, 'consumer.cts'), consumer)
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const args = [
    ...[tsc, '--noEmit', '--pretty', 'false', '--strict', '--skipLibCheck', 'false'],
    ...['--module', 'node16', '--target', 'es2022', '--types', 'node'],
    ...['--typeRoots', join(root, 'node_modules', '@types'), 'consumer.mts', 'consumer.cts'],
  ]
  const { failed, output } = await run(process.execPath, args, project, 60_000).then(
    (output) => ({ failed: false, output }),
    (error: Error) => ({ failed: true, output: error.message }),
  )
  const errors = output.split('\n').filter((line) => / error TS\d+:/.test(line))
  if (failed && errors.length === 0) return [output]
  return errors.filter((line) => !/^node_modules\/(?!comfyui-rx\/)/.test(line))
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'comfyui-rx-tarball-'))
  await run('npm', ['pack', '--pack-destination', project], root, 120_000)
  const tarball = (await readdir(project)).find((file) => file.endsWith('.tgz'))
  await writeFile(join(project, 'package.json'), '{ "name": "tarball-check", "private": true }\n')
  const install = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts']
  const versions = await Promise.all(peers.map(async (name) => `${name}@${await versionOf(name)}`))
  await run('npm', [...install, `./${tarball}`, ...versions], project, 90_000)
  dist = join(project, 'node_modules', 'comfyui-rx', 'dist')
  for (const file of await readdir(probes)) await copyFile(join(probes, file), join(project, file))
  const bin = join(project, 'node_modules', '.bin', 'comfyui-rx')
  ;[typeErrors, binVersion] = await Promise.all([
    typeCheck(),
    run(bin, ['--version'], project, 20_000),
    probe('identity.mjs'),
    probe('identity.cjs'),
  ])
}, 300_000)

afterAll(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  it('ships dist/ with every file that package.json exports, and the bin', async () => {
    const manifest = await readFile(join(dist, '..', 'package.json'), 'utf8')
    const { exports, bin } = JSON.parse(manifest) as {
      exports: Record<string, string | Record<string, Record<string, string>>>
      bin: Record<string, string>
    }
    const files = Object.values(exports).flatMap((conditions) =>
      typeof conditions === 'string'
        ? []
        : Object.values(conditions).flatMap((target) => Object.values(target)),
    )
    files.push(...Object.values(bin).map((file) => `./${file.replace(/^\.\//, '')}`))
    const shipped = new Set((await filesOf(dist)).map((file) => `./dist/${file}`))
    expect(files.length).toBeGreaterThan(0)
    expect(files.filter((file) => !shipped.has(file))).toEqual([])
  })

  it('runs its bin', async () => {
    const manifest = await readFile(join(dist, '..', 'package.json'), 'utf8')
    expect(binVersion.trim()).toBe((JSON.parse(manifest) as { version: string }).version)
  })

  it.each(['.js', '.cjs'])('defines each class in one %s module of dist/', async (extension) => {
    const definedIn = new Map<string, string[]>()
    for (const file of await filesOf(dist)) {
      if (!file.endsWith(extension)) continue
      const code = await readFile(join(dist, file), 'utf8')
      for (const [, declared, assigned] of code.matchAll(
        /^(?:class (\w+)|(?:var|let|const) (\w+) = class\b)/gm,
      )) {
        const name = declared ?? assigned!
        definedIn.set(name, [...(definedIn.get(name) ?? []), file])
      }
    }
    expect(definedIn.get('ComfyError')).toHaveLength(1)
    expect([...definedIn].filter(([, files]) => files.length > 1)).toEqual([])
  })

  it.each(['identity.mjs', 'identity.cjs'])(
    'gives the errors of every entry point the classes of comfyui-rx (%s)',
    (file) => {
      const { exported, ...errors } = results.get(file)!
      expect(Object.keys(exported)).toHaveLength(7)
      expect(errors).toEqual({
        storeError: { name: 'ComfyStoreError', instanceOf: ['ComfyError', 'ComfyStoreError'] },
        streamError: { name: 'ProgressStreamError', instanceOf: ['ComfyError'] },
        validationError: {
          name: 'ComfyValidationError',
          instanceOf: ['ComfyError', 'ComfyValidationError'],
        },
      })
    },
  )

  it('exports the same names through require as through import', () => {
    expect(results.get('identity.cjs')?.exported).toEqual(results.get('identity.mjs')?.exported)
  })

  it('declares no @internal symbol', async () => {
    const declarations = (await filesOf(dist)).filter((file) => /\.d\.c?ts$/.test(file))
    const internal: string[] = []
    for (const file of declarations)
      if ((await readFile(join(dist, file), 'utf8')).includes('@internal')) internal.push(file)
    expect(declarations.length).toBeGreaterThan(0)
    expect(internal).toEqual([])
  })

  it('type-checks for consumers in ESM and in CommonJS, declarations included', () => {
    expect(typeErrors).toEqual([])
  })
})
