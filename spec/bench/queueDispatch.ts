import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { filter, firstValueFrom } from 'rxjs'
import {
  ComfyUIJobRunner,
  type ComfyUIJobResult,
  type RunnerPodStatus,
  type Workflow,
} from '../../src/index.js'
import { ComfyJobQueue, type ComfyWorker, startComfyWorker } from '../../src/queue/index.js'
import { startRedisServer } from '../store/redisServer.js'
import {
  against,
  Child,
  cpuMs,
  type Figure,
  median,
  REPO_ROOT,
  runIfMain,
  type Section,
  until,
} from './support/measure.js'
import { txt2imgWith } from './support/workflows.js'

// Issue 15: the dispatch overhead of a job through the queue (`queue.add` + `queue.result`,
// BullMQ on a real redis-server, a `startComfyWorker` in this process or in a process of its own)
// against the in-process ComfyUIJobRunner, on the same simulated pods (in a child process, real
// sockets). The three ways run the same number of jobs in alternation, round after round; each
// ratio is the median over rounds of the ratio within a round.

const PODS = 2
const CONCURRENCY_PER_POD = 2
/** Jobs in flight from the client: the pods' slots, so that the runner never holds jobs back. */
const IN_FLIGHT = PODS * CONCURRENCY_PER_POD
const JOBS = Number(process.env['BENCH_QUEUE_JOBS'] ?? 200)
const ROUNDS = Number(process.env['BENCH_QUEUE_ROUNDS'] ?? 5)
const WARMUP_JOBS = Math.min(60, JOBS)
const COUNTED_JOBS = Math.min(100, JOBS)
const STEPS = 4
const SIMULATOR = { stepDurationMs: 1, nodeDurationMs: 1, previews: false }
const LOCAL_QUEUE = 'bench-in-process'
/** The start events of ioredis's `ioredis:command` tracing channel. */
const COMMAND_STARTS = 'tracing:ioredis:command:start'

type Way = 'runner' | 'queue' | 'queue, worker process'
const WAYS: readonly Way[] = ['runner', 'queue', 'queue, worker process']

interface Pass {
  readonly wallMs: number
  /** This process's CPU (all threads). */
  readonly cpuMs: number
  /** The worker process's CPU, when the worker runs in one. */
  readonly workerCpuMs: number
  /** Each job's time from submit (or add) to its result. */
  readonly latenciesMs: readonly number[]
  /** Commands Redis executed (those of Lua scripts included; INFO left out). */
  readonly redisCommands: number
  /** EVALSHA/EVAL calls: BullMQ's scripts. */
  readonly redisScripts: number
  readonly redisCpuMs: number
}

/** Redis's side: commands executed by name, and its CPU time. */
async function redisStats(redis: Redis): Promise<{ calls: Map<string, number>; cpuMs: number }> {
  const calls = new Map<string, number>()
  for (const [, name, count] of (await redis.info('commandstats')).matchAll(
    /^cmdstat_([^:]+):calls=(\d+)/gm,
  )) {
    if (name !== 'info') calls.set(name!, Number(count))
  }
  const cpu = await redis.info('cpu')
  const seconds = (field: string): number =>
    Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0)
  return { calls, cpuMs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000 }
}

function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const calls = new Map<string, number>()
  for (const [name, count] of after) {
    const delta = count - (before.get(name) ?? 0)
    if (delta > 0) calls.set(name, delta)
  }
  return calls
}

const total = (calls: Map<string, number>): number =>
  [...calls.values()].reduce((sum, count) => sum + count, 0)

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** A process's CPU time (user + system) in ms, from /proc (Linux). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of the line (utime, stime); the slice starts at field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
}

/** examples/studio/worker.ts: a worker with its default options, in a process of its own. */
async function workerProcess(
  redisUrl: string,
  urls: readonly string[],
): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/studio/worker.ts', redisUrl, urls.join(',')],
    { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let output = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (/^ready$/m.test(output)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`the worker process exited with ${code}`)))
  })
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.stdin!.end() // it exits when its stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Runs `jobs` jobs, `IN_FLIGHT` at a time, each through `submit`. */
async function pass(
  submit: (workflow: Workflow) => Promise<ComfyUIJobResult>,
  jobs: number,
  redis: Redis,
  workerPid?: number,
): Promise<Pass> {
  const workflows = Array.from({ length: jobs }, () => txt2imgWith(STEPS))
  ;(globalThis as { gc?: () => void }).gc?.()
  const latenciesMs: number[] = []
  const redisBefore = await redisStats(redis)
  const workerBefore = processCpuMs(workerPid)
  let next = 0
  let completed = 0
  const start = performance.now()
  const startCpu = cpuMs()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < jobs) {
        const workflow = workflows[next++]!
        const submitted = performance.now()
        const result = await submit(workflow)
        latenciesMs.push(performance.now() - submitted)
        if (result.status === 'completed') completed++
      }
    }),
  )
  const wallMs = performance.now() - start
  const usedCpuMs = cpuMs() - startCpu
  const workerCpuMs = processCpuMs(workerPid) - workerBefore
  const redisAfter = await redisStats(redis)
  if (completed !== jobs) throw new Error(`${completed} of ${jobs} jobs completed`)
  const calls = difference(redisAfter.calls, redisBefore.calls)
  return {
    wallMs,
    cpuMs: usedCpuMs,
    workerCpuMs,
    latenciesMs,
    redisCommands: total(calls),
    redisScripts: (calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0),
    redisCpuMs: redisAfter.cpuMs - redisBefore.cpuMs,
  }
}

/**
 * The commands this process sends (ioredis's `ioredis:command` tracing channel: BullMQ's clients
 * included) and those Redis executes, by name, over `jobs` more jobs; not timed, for tracing
 * costs CPU.
 */
async function countCommands(
  submit: (workflow: Workflow) => Promise<ComfyUIJobResult>,
  jobs: number,
  redis: Redis,
): Promise<{ sent: Map<string, number>; executed: Map<string, number> }> {
  const sent = new Map<string, number>()
  const onStart = (context: unknown): void => {
    const { command } = context as { command: string }
    sent.set(command, (sent.get(command) ?? 0) + 1)
  }
  const before = await redisStats(redis)
  subscribe(COMMAND_STARTS, onStart)
  try {
    for (let i = 0; i < jobs; i++) await submit(txt2imgWith(STEPS))
  } finally {
    unsubscribe(COMMAND_STARTS, onStart)
  }
  const after = await redisStats(redis)
  sent.delete('info')
  return { sent, executed: difference(after.calls, before.calls) }
}

const allHealthy = (pods: readonly RunnerPodStatus[]): boolean => pods.every((pod) => pod.healthy)

export async function queueDispatch(): Promise<Section> {
  const pods = new Child('support/simulators.ts', [String(PODS), JSON.stringify(SIMULATOR)])
  const server = await startRedisServer()
  const redis = new Redis(server.url)
  const closing: (() => unknown)[] = []
  try {
    const { urls } = await pods.next<{ type: 'ready'; urls: string[] }>('ready')
    const runner = new ComfyUIJobRunner({ pods: urls, concurrencyPerPod: CONCURRENCY_PER_POD })
    closing.push(() => runner.close())
    const queue = new ComfyJobQueue({ connection: server.url, name: LOCAL_QUEUE })
    closing.push(() => queue.close())
    const worker: ComfyWorker = startComfyWorker({
      connection: server.url,
      name: LOCAL_QUEUE,
      pods: urls,
      concurrencyPerPod: CONCURRENCY_PER_POD,
    })
    closing.push(() => worker.close())
    // The worker process's queue has the default name.
    const remoteQueue = new ComfyJobQueue({ connection: server.url })
    closing.push(() => remoteQueue.close())
    const remote = await workerProcess(server.url, urls)
    closing.push(() => remote.stop())
    await worker.ready()
    await Promise.all([
      firstValueFrom(worker.pods$.pipe(filter(allHealthy))),
      until(() => allHealthy(runner.pods), 'healthy pods'),
    ])

    const viaQueue =
      (target: ComfyJobQueue) =>
      async (workflow: Workflow): Promise<ComfyUIJobResult> =>
        target.result((await target.add(workflow)).jobId)
    const submit: Record<Way, (workflow: Workflow) => Promise<ComfyUIJobResult>> = {
      runner: (workflow) => runner.submit(workflow),
      queue: viaQueue(queue),
      'queue, worker process': viaQueue(remoteQueue),
    }
    const workerPid = (way: Way) => (way === 'queue, worker process' ? remote.child.pid : undefined)

    // Warm every way up (JIT, connections, the worker process's pods) before anything counts.
    for (const way of WAYS) await pass(submit[way], WARMUP_JOBS, redis, workerPid(way))
    const passes: Record<Way, Pass[]> = { runner: [], queue: [], 'queue, worker process': [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < WAYS.length; i++) {
        const way = WAYS[(round + i) % WAYS.length]!
        passes[way].push(await pass(submit[way], JOBS, redis, workerPid(way)))
      }
    }
    const local = await countCommands(submit.queue, COUNTED_JOBS, redis)
    const producer = await countCommands(submit['queue, worker process'], COUNTED_JOBS, redis)
    return section(passes, local, producer)
  } finally {
    for (const close of closing.reverse()) await close()
    redis.disconnect()
    await server.close()
    await pods.stop()
  }
}

function section(
  passes: Record<Way, Pass[]>,
  local: { sent: Map<string, number>; executed: Map<string, number> },
  producer: { sent: Map<string, number>; executed: Map<string, number> },
): Section {
  const p50 = (run: Pass): number => median(run.latenciesMs)
  const perJob = (value: (run: Pass) => number) => (way: Way) =>
    median(passes[way].map((run) => value(run) / JOBS))
  const ratiosOf = (way: Way, value: (run: Pass) => number): number[] =>
    passes[way].map((run, round) => value(run) / value(passes.runner[round]!))
  const spread = (way: Way, value: (run: Pass) => number): string => {
    const ratios = ratiosOf(way, value)
    return `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`
  }
  /** A figure of `way` against the runner: medians, and the median of the ratios by round. */
  const figure = (label: string, way: Way, value: (run: Pass) => number, unit = 'ms'): Figure => {
    const ratios = ratiosOf(way, value)
    const baseline = median(passes.runner.map(value))
    return {
      ...against(label, median(passes[way].map(value)), unit, {
        label: 'ComfyUIJobRunner.submit',
        value: baseline,
      }),
      ratio: median(ratios),
    }
  }
  const wall = (run: Pass) => run.wallMs / JOBS
  const cpu = (run: Pass) => run.cpuMs / JOBS
  const cpuWithWorker = (run: Pass) => (run.cpuMs + run.workerCpuMs) / JOBS
  const added = (way: Way) =>
    median(passes[way].map((run, round) => p50(run) - p50(passes.runner[round]!)))
  const plain = (label: string, value: number, unit: string): Figure => ({ label, value, unit })
  const redisOf = (way: Way) => ({
    commands: perJob((run) => run.redisCommands)(way),
    scripts: perJob((run) => run.redisScripts)(way),
    cpu: perJob((run) => run.redisCpuMs)(way),
  })
  const inProcess = redisOf('queue')
  const perCommand = [...new Set([...local.sent.keys(), ...local.executed.keys()])]
    .map((name) => ({
      name,
      producer: (producer.sent.get(name) ?? 0) / COUNTED_JOBS,
      sent: (local.sent.get(name) ?? 0) / COUNTED_JOBS,
      executed: (local.executed.get(name) ?? 0) / COUNTED_JOBS,
    }))
    .sort((a, b) => b.executed - a.executed || b.sent - a.sent)
  const perSecond = (way: Way) => (1000 / perJob((run) => run.wallMs)(way)).toFixed(0)
  return {
    id: 'queue-dispatch',
    title: `8. Queue dispatch: ${JOBS} jobs on ${PODS} simulated pods, queue against runner`,
    method:
      `${ROUNDS} rounds; in each, ${JOBS} txt2img jobs (${STEPS} steps, new seeds) run each ` +
      `of three ways, in rotated order, ${IN_FLIGHT} in flight (the pods' slots: ` +
      `concurrencyPerPod ${CONCURRENCY_PER_POD}), on ${PODS} simulators in a child process over ` +
      'real sockets: ' +
      '`runner.submit` on a ComfyUIJobRunner (the baseline); `queue.add` + `queue.result` with ' +
      'a startComfyWorker in this process; and the same with the worker in a process of its own ' +
      '(examples/studio/worker.ts). BullMQ on a real redis-server (no persistence). Values: ' +
      'medians over rounds; ratio: median over rounds of the ratio within a round. CPU: ' +
      "process.cpuUsage() of this process, plus the worker process's from /proc; Redis: INFO " +
      'commandstats and cpu before and after each pass.',
    figures: [
      figure('latency per job, p50, worker in this process', 'queue', p50),
      figure('latency per job, p50, worker process', 'queue, worker process', p50),
      figure('wall time per job, worker in this process', 'queue', wall),
      figure('wall time per job, worker process', 'queue, worker process', wall),
      figure('client CPU per job, producer + worker in this process', 'queue', cpu),
      figure('CPU per job, producer + worker process', 'queue, worker process', cpuWithWorker),
      figure('client CPU per job, producer alone (worker process)', 'queue, worker process', cpu),
      plain('latency added per job, p50, worker in this process', added('queue'), 'ms'),
      plain('latency added per job, p50, worker process', added('queue, worker process'), 'ms'),
      plain(
        'Redis commands executed per job (Lua scripts’ included)',
        inProcess.commands,
        'commands',
      ),
      plain('BullMQ scripts (EVALSHA) per job', inProcess.scripts, 'scripts'),
      plain('Redis CPU per job', inProcess.cpu, 'ms'),
    ],
    markdown: [
      `**Redis commands per job by name** (${COUNTED_JOBS} more jobs, one at a time, not ` +
        "timed): sent by the client's ioredis connections (the `ioredis:command` tracing " +
        'channel; a pipeline counts each of its commands), with the worker in this process and ' +
        'by the producer alone (worker process); executed by Redis, Lua scripts’ commands ' +
        'included (INFO commandstats).',
      '',
      '| command | sent, producer + worker | sent, producer alone | executed by Redis |',
      '| --- | ---: | ---: | ---: |',
      ...perCommand.map(
        ({ name, sent, producer: alone, executed }) =>
          `| ${name} | ${sent.toFixed(2)} | ${alone.toFixed(2)} | ${executed.toFixed(2)} |`,
      ),
      `| total | ${[local.sent, producer.sent, local.executed]
        .map((calls) => (total(calls) / COUNTED_JOBS).toFixed(2))
        .join(' | ')} |`,
    ].join('\n'),
    notes: [
      `Throughput: runner ${perSecond('runner')} jobs/s, queue ${perSecond('queue')} jobs/s, ` +
        `queue with the worker process ${perSecond('queue, worker process')} jobs/s; the pods ` +
        'run one prompt at a time each, so throughput is theirs as long as every slot is kept ' +
        'busy.',
      `Ratios by round, worker in this process: latency p50 ${spread('queue', p50)}, wall ` +
        `time ${spread('queue', wall)}, CPU ${spread('queue', cpu)}; worker process: latency ` +
        `p50 ${spread('queue, worker process', p50)}, CPU ` +
        `${spread('queue, worker process', cpuWithWorker)}.`,
      `With as many jobs in flight as the pods have slots, a job's added latency leaves its ` +
        'slot idle meanwhile: the wall time per job (the inverse of throughput) grows with it.',
      `Redis with the worker process: ${redisOf('queue, worker process').commands.toFixed(0)} ` +
        `commands and ${redisOf('queue, worker process').cpu.toFixed(2)} ms of CPU per job. ` +
        "Redis's counts include what the idle worker of the other way sends meanwhile " +
        '(blocking waits, stalled-job checks).',
    ],
  }
}

runIfMain(import.meta.url, queueDispatch, 220_000)
