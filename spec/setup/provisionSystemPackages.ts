/**
 * Vitest's globalSetup: the system programs some specs run, redis-server (spec/store) and Debian's
 * Chromium (spec/studio). When one is missing and the tests run as root (a fresh CI machine), it is
 * installed with apt-get; otherwise the run stops at once with one line naming what to install,
 * rather than a failure in every spec that needs it.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { chromiumPath } from '../../examples/studio/chromiumPath.js'

/** A Debian package, and whether the program the specs run from it is there. */
interface SystemPackage {
  readonly name: string
  readonly installed: () => boolean
}

const PACKAGES: readonly SystemPackage[] = [
  { name: 'redis-server', installed: () => onPath('redis-server') },
  { name: 'chromium', installed: () => isExecutable(chromiumPath()) },
]

export default async function provisionSystemPackages(): Promise<void> {
  const missing = PACKAGES.filter((systemPackage) => !systemPackage.installed())
  if (missing.length === 0) return
  const failure = canInstall() ? await aptGetInstall(missing.map(({ name }) => name)) : undefined
  const names = missing
    .filter((systemPackage) => !systemPackage.installed())
    .map(({ name }) => name)
  if (names.length === 0) return
  const why = failure === undefined ? '' : ` (apt-get failed: ${failure})`
  const chromium = names.includes('chromium') ? pathOverride() : ''
  process.stderr.write(
    `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'} needed by the tests${chromium}${why}: apt-get install ${names.join(' ')}\n`,
  )
  // Not a thrown error: Vitest would frame it with a banner and a stack; one line says it all.
  process.exit(1)
}

function canInstall(): boolean {
  return process.getuid?.() === 0 && onPath('apt-get')
}

/** Installs the packages quietly; resolves to apt-get's last error line when it fails. */
async function aptGetInstall(names: readonly string[]): Promise<string | undefined> {
  // Said because it takes a minute the first time; apt-get's own output is kept back.
  process.stderr.write(`installing ${names.join(' and ')} for the tests (apt-get)\n`)
  const run = promisify(execFile)
  const options = {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  }
  // Waits for another apt-get (a parallel test run) to finish, rather than failing on its lock.
  const lock = ['-o', 'DPkg::Lock::Timeout=300']
  try {
    // The package lists of a fresh machine are empty: updated once, before the one install.
    await run('apt-get', ['update', '-qq', ...lock], options)
    await run('apt-get', ['install', '-y', '-qq', ...lock, ...names], options)
    return undefined
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string }
    const lines = (stderr ?? '').split('\n').filter((line) => line.startsWith('E: '))
    return lines.at(-1)?.slice(3) ?? message.split('\n')[0]
  }
}

/** Names CHROMIUM_PATH when it is set: installing Debian's Chromium does not change that path. */
function pathOverride(): string {
  const path = process.env['CHROMIUM_PATH']
  return path === undefined ? '' : ` (CHROMIUM_PATH=${path} is not an executable)`
}

function onPath(command: string): boolean {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .some((directory) => directory !== '' && isExecutable(join(directory, command)))
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}
