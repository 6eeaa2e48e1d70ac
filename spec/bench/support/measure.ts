import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'

// What every benchmark script shares: statistics, heap and CPU readings, the shape of a result,
// the way a script runs on its own, and child processes that talk JSON over IPC.

/** The repository's root (child processes start there so that `--import tsx` resolves). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** One measured figure, beside the baseline it is divided by. */
export interface Figure {
  readonly label: string
  readonly value: number
  readonly unit: string
  /** The baseline measured in the same run; `ratio` is `value / baseline.value`. */
  readonly baseline?: { readonly label: string; readonly value: number; readonly unit: string }
  readonly ratio?: number
  /** The target, in words ("≤ 2× JSON.parse"); `pass` says whether this run met it. */
  readonly target?: string
  readonly pass?: boolean
}

/** The result of one benchmark script. */
export interface Section {
  readonly id: string
  readonly title: string
  /** How it was measured, in a sentence or two. */
  readonly method: string
  readonly figures: readonly Figure[]
  readonly notes?: readonly string[]
  /** Extra tables (e.g. where the time goes), already in markdown. */
  readonly markdown?: string
}

/** A figure with its ratio to a baseline. */
export function against(
  label: string,
  value: number,
  unit: string,
  baseline: { label: string; value: number; unit?: string },
  target?: { text: string; pass: boolean },
): Figure {
  return {
    label,
    value,
    unit,
    baseline: { label: baseline.label, value: baseline.value, unit: baseline.unit ?? unit },
    ratio: value / baseline.value,
    ...(target === undefined ? {} : { target: target.text, pass: target.pass }),
  }
}

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Process CPU time (user + system, all threads) in ms. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Waits for the event loop to turn (pending callbacks, immediates). */
export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => (ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms)))
}

/** Heap in use after full collections; needs `node --expose-gc`. */
export async function settledHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await tick()
  }
  return process.memoryUsage().heapUsed
}

/** Resolves when `predicate` holds, checking every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  predicate: () => boolean,
  what: string,
  timeoutMs = 30_000,
  everyMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await tick(everyMs)
  }
}

const RESULT_PREFIX = 'BENCH_RESULT '

/**
 * Runs `main` when the module is the process's entry point: prints the section as one JSON line
 * on stdout (what `writeReport.ts` reads), and exits. A deadline stops a benchmark that hangs.
 */
export function runIfMain(
  moduleUrl: string,
  main: () => Promise<Section>,
  deadlineMs = 180_000,
): void {
  if (process.argv[1] === undefined || pathToFileURL(process.argv[1]).href !== moduleUrl) return
  const deadline = setTimeout(() => {
    console.error(`${moduleUrl}: gave up after ${deadlineMs} ms`)
    process.exit(2)
  }, deadlineMs)
  deadline.unref()
  main().then(
    (section) => {
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(section)}\n`, () => process.exit(0))
    },
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
}

/** The section a script printed, from its stdout. */
export function parseResult(stdout: string): Section {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
  if (line === undefined) throw new Error('the script printed no result')
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as Section
}

/** A message between a benchmark and its child processes. */
export interface Message {
  readonly type: string
  readonly [key: string]: unknown
}

/** A child process (a script of spec/bench/, run with tsx) spoken to over IPC. */
export class Child {
  private readonly process: ChildProcess
  private readonly inbox: Message[] = []
  private readonly waiters: { type: string; resolve: (message: Message) => void }[] = []
  private exited = false

  /** @param script - a path relative to spec/bench/, e.g. `support/simulators.ts` */
  constructor(script: string, args: readonly string[] = [], nodeFlags: readonly string[] = []) {
    this.process = fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), [...args], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx', ...nodeFlags],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.process.on('message', (message: Message) => {
      const waiter = this.waiters.findIndex((w) => w.type === message.type)
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0]!.resolve(message)
      else this.inbox.push(message)
    })
    this.process.on('exit', () => (this.exited = true))
  }

  get pid(): number | undefined {
    return this.process.pid
  }

  send(message: Message): void {
    this.process.send(message)
  }

  /** The next message of this type (one already received counts). */
  next<T extends Message = Message>(type: string, timeoutMs = 60_000): Promise<T> {
    const index = this.inbox.findIndex((m) => m.type === type)
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as T)
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" from the child`)), timeoutMs)
      const onExit = () => reject(new Error(`the child exited before sending "${type}"`))
      this.process.once('exit', onExit)
      this.waiters.push({
        type,
        resolve: (message) => {
          clearTimeout(timer)
          this.process.off('exit', onExit)
          resolve(message as T)
        },
      })
    })
  }

  /** Sends a request and waits for its answer. */
  async ask<T extends Message = Message>(message: Message, answer: string): Promise<T> {
    const reply = this.next<T>(answer)
    this.send(message)
    return reply
  }

  /** Asks the child to stop, and kills it if it has not exited within a second. */
  async stop(): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()))
    if (this.process.connected) this.process.disconnect()
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 1000)
    await exited
    clearTimeout(timer)
  }
}

/**
 * In a child process: the parent's messages, and an exit when the parent goes away (so no child
 * outlives its benchmark).
 */
export function parentChannel(onMessage: (message: Message) => void | Promise<void>): {
  send(message: Message): void
} {
  if (process.send === undefined) throw new Error('start this script from a benchmark')
  process.on('message', (message: Message) => {
    Promise.resolve(onMessage(message)).catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  })
  process.on('disconnect', () => process.exit(0))
  return { send: (message) => process.send!(message) }
}
