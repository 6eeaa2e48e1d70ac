import { PerformanceObserver } from 'node:perf_hooks'
import { decodeFrame } from '../../src/index.js'
import { FRAMES, podWithJobs, podWithoutJobs, reducerOverMessages } from './harness.js'
import {
  against,
  Child,
  median,
  parentChannel,
  runIfMain,
  type Section,
  settledHeap,
} from './support/measure.js'
import { cpuProfile } from './support/profile.js'

// Issue 7, measurements 1 and 2 again, where tinybench's one-task-after-another does not suit a
// noisy machine: the stages of a message, measured in alternation (each round times every task
// once; a ratio is taken within a round, then the median over rounds), with 1 to 10,000 jobs
// listening at the same time. Then where the time goes: bytes allocated per message per stage
// (in a child with a young generation large enough that nothing is collected meanwhile), GC time
// per message with 1 and with 10,000 idle jobs, and a CPU profile of the 1-job flood bucketed by
// module.

const ROUNDS = Number(process.env['BENCH_HOT_ROUNDS'] ?? 40)
const JOB_COUNTS = [1, 100, 1_000, 10_000] as const
const MESSAGES_PER_PASS = FRAMES.length

interface Task {
  readonly name: string
  /** One pass: every frame once. */
  readonly pass: () => void
  /** Passes per round (about 5–20 ms each). */
  readonly passes: number
}

/** Per task, its time per pass in each round; the order of the tasks turns round by round. */
function alternate(tasks: readonly Task[], rounds: number): Map<string, number[]> {
  const times = new Map(tasks.map((task) => [task.name, [] as number[]]))
  for (const task of tasks) for (let i = 0; i < task.passes; i++) task.pass()
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < tasks.length; k++) {
      const task = tasks[(round + k) % tasks.length]!
      const start = performance.now()
      for (let i = 0; i < task.passes; i++) task.pass()
      times.get(task.name)!.push((performance.now() - start) / task.passes)
    }
  }
  return times
}

/** Median over rounds of `task / baseline` within each round. */
function ratio(times: Map<string, number[]>, task: string, baseline: string): number {
  const a = times.get(task)!
  const b = times.get(baseline)!
  return median(a.map((value, round) => value / b[round]!))
}

const µsPerMessage = (msPerPass: number): number => (msPerPass * 1000) / MESSAGES_PER_PASS

/** GC time (ms) while `run` goes, as PerformanceObserver reports it. */
async function gcDuring(run: () => void): Promise<number> {
  let gcMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  observer.observe({ entryTypes: ['gc'] })
  run()
  await new Promise((resolve) => setTimeout(resolve, 20))
  observer.disconnect()
  return gcMs
}

/** Floods `socket` for `ms`; GC µs per message and µs per message. */
async function floodGc(
  socket: { receive(frame: string): void },
  ms: number,
): Promise<{ gcµs: number; µs: number }> {
  let messages = 0
  let elapsed = 0
  const gcMs = await gcDuring(() => {
    const start = performance.now()
    while (performance.now() - start < ms) {
      for (const frame of FRAMES) socket.receive(frame)
      messages += FRAMES.length
    }
    elapsed = performance.now() - start
  })
  return { gcµs: (gcMs * 1000) / messages, µs: (elapsed * 1000) / messages }
}

/** Module of a profiled function, for the hot path. */
function bucketOf(functionName: string, url: string): string {
  if (functionName === 'decodeText') return 'JSON.parse + decodeText (protocol/decodeFrame.ts)'
  if (url.includes('/node_modules/io-ts/')) return 'io-ts type guards (`codec.is`)'
  if (url.includes('/node_modules/fp-ts/')) return 'fp-ts Either'
  if (url.includes('/node_modules/rxjs/')) return 'RxJS operators and subjects'
  if (url.includes('/node_modules/rxjs-websockets/')) return 'rxjs-websockets'
  if (url.endsWith('/src/job/reduceJob.ts')) return 'job reducer (job/reduceJob.ts)'
  if (url.endsWith('/src/job/measureProgress.ts'))
    return 'progress measure (job/measureProgress.ts)'
  if (url.endsWith('/src/job/PromptFollower.ts')) return 'job (job/PromptFollower.ts)'
  // compileGuard's generated code has no file: `guard` and its helpers `h0`, `h1`, …
  if (url === '' && /^(guard|h\d+)$/.test(functionName))
    return 'io-ts guards, compiled (protocol/compileGuard.ts)'
  if (url.includes('/src/socket/') || url.includes('/src/pod/'))
    return 'socket, router and pod (socket/*.ts, pod/*.ts)'
  if (url.includes('/src/protocol/')) return 'decodeFrame, other (protocol/*.ts)'
  if (url.includes('/spec/')) return 'benchmark harness (fake socket)'
  return functionName === '' ? '(native)' : `${functionName} (native)`
}

/** The child's work: bytes allocated per message by each stage, with no collection meanwhile. */
async function allocations(): Promise<Record<string, number>> {
  const throttled = await podWithJobs(1)
  const bare = podWithoutJobs()
  const reduce = reducerOverMessages()
  const stages: Record<string, () => void> = {
    'JSON.parse': () => {
      for (const frame of FRAMES) JSON.parse(frame)
    },
    decodeFrame: () => {
      for (const frame of FRAMES) decodeFrame(frame)
    },
    'decode + socket pipeline': () => {
      for (const frame of FRAMES) bare.socket.receive(frame)
    },
    'reduceJob alone': reduce,
    'whole path, 1 job': () => {
      for (const frame of FRAMES) throttled.socket.receive(frame)
    },
  }
  const bytes: Record<string, number> = {}
  for (const [name, pass] of Object.entries(stages)) {
    for (let i = 0; i < 200; i++) pass()
    const passes = 40
    let collected = false
    await settledHeap()
    const before = process.memoryUsage().heapUsed
    const gcMs = await gcDuring(() => {
      for (let i = 0; i < passes; i++) pass()
    })
    const after = process.memoryUsage().heapUsed
    collected = gcMs > 0
    bytes[name] = collected ? Number.NaN : (after - before) / passes / MESSAGES_PER_PASS
  }
  return bytes
}

export async function hotPath(): Promise<Section> {
  // Allocation first, in a child of its own (its young generation is 256 MB).
  const child = new Child(
    'hotPath.ts',
    ['allocations'],
    ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256'],
  )
  const { bytes } = await child.next<{ type: 'allocations'; bytes: Record<string, number> }>(
    'allocations',
    120_000,
  )
  await child.stop()

  // GC with 1 job, then with 10,000 idle jobs on the pod (the heap they hold is scanned too).
  const gc = (globalThis as { gc?: () => void }).gc
  const one = await podWithJobs(1)
  gc?.()
  await floodGc(one.socket, 300)
  const gcOne = await floodGc(one.socket, 1500)
  const many = await podWithJobs(10_000)
  gc?.()
  await floodGc(many.socket, 300)
  const gcMany = await floodGc(many.socket, 1500)

  // Every stage and every job count, alternating.
  const pods = [
    one,
    ...(await Promise.all(JOB_COUNTS.slice(1, 3).map((n) => podWithJobs(n)))),
    many,
  ]
  const unthrottled = await podWithJobs(1, () => undefined, {
    progressThrottleMs: 0,
    stallTimeoutMs: 3_600_000,
  })
  const bare = podWithoutJobs()
  const reduce = reducerOverMessages()
  gc?.()
  const tasks: Task[] = [
    {
      name: 'JSON.parse',
      passes: 100,
      pass: () => {
        for (const frame of FRAMES) JSON.parse(frame)
      },
    },
    {
      name: 'decodeFrame',
      passes: 80,
      pass: () => {
        for (const frame of FRAMES) decodeFrame(frame)
      },
    },
    {
      name: 'decode + socket pipeline (messages$, no job)',
      passes: 60,
      pass: () => {
        for (const frame of FRAMES) bare.socket.receive(frame)
      },
    },
    { name: 'reduceJob alone', passes: 100, pass: reduce },
    {
      name: 'unthrottled, 1 job',
      passes: 40,
      pass: () => {
        for (const frame of FRAMES) unthrottled.socket.receive(frame)
      },
    },
    ...JOB_COUNTS.map((jobs, i) => ({
      name: `${jobs} job(s)`,
      passes: 40,
      pass: () => {
        for (const frame of FRAMES) pods[i]!.socket.receive(frame)
      },
    })),
  ]
  const times = alternate(tasks, ROUNDS)
  const cpu = await cpuProfile(
    () => {
      const start = performance.now()
      while (performance.now() - start < 2000) for (const frame of FRAMES) one.socket.receive(frame)
    },
    { entry: 'receive', bucketOf },
  )
  for (const pod of pods) pod.pod.close()
  unthrottled.pod.close()
  bare.pod.close()

  const perMessage = ratio(times, '1 job(s)', 'JSON.parse')
  const scaling = ratio(times, '10000 job(s)', '1 job(s)')
  const stageRows = tasks.map((task) => {
    const name = task.name
    const allocated =
      bytes[
        name === '1 job(s)'
          ? 'whole path, 1 job'
          : name === 'decode + socket pipeline (messages$, no job)'
            ? 'decode + socket pipeline'
            : name === 'reduceJob alone'
              ? 'reduceJob alone'
              : name
      ]
    return `| ${name === '1 job(s)' ? 'whole path, 1 job (throttled)' : name} | ${ratio(times, name, 'JSON.parse').toFixed(2)}× | ${µsPerMessage(median(times.get(name)!)).toFixed(2)} | ${allocated === undefined || Number.isNaN(allocated) ? '' : allocated.toFixed(0)} |`
  })
  const markdown = [
    '**Stages of one message**, in alternation (median over rounds of the ratio within a round):',
    '',
    '| stage | × JSON.parse | µs per message | bytes allocated per message |',
    '| --- | ---: | ---: | ---: |',
    ...stageRows,
    '',
    `**Where the time goes**: CPU profile of the 1-job flood (2 s, 100 µs sampling), self time ` +
      `under the socket's message handler, by module. GC: ${(cpu.gcShare * 100).toFixed(1)}% of ` +
      'the busy samples.',
    '',
    '| module | share of the path | × JSON.parse |',
    '| --- | ---: | ---: |',
    ...cpu.buckets.map(
      ([bucket, share]) =>
        `| ${bucket} | ${(share * 100).toFixed(1)}% | ${(share * perMessage).toFixed(2)} |`,
    ),
    '',
    'Hottest functions (self time, share of the path):',
    '',
    '| function — file | share |',
    '| --- | ---: |',
    ...cpu.functions.map(([name, share]) => `| ${name} | ${(share * 100).toFixed(1)}% |`),
  ].join('\n')

  return {
    id: 'hot-path',
    title: '1–2. Hot path, alternating; where the time goes',
    method:
      `${ROUNDS} rounds; in each, every task handles the ${FRAMES.length} recorded frames ` +
      '40–100 times in turn (order rotated per round); pods with 1, 100, 1,000 and 10,000 jobs ' +
      'all exist during the rounds. Allocation: heap growth over 40 passes in a child whose ' +
      '256 MB young generation sees no collection. GC: PerformanceObserver over a 1.5 s flood, ' +
      'first with 1 job, then with 10,000 idle jobs on the pod.',
    figures: [
      against(
        'cost per message, 1 job (alternating)',
        perMessage,
        '×',
        { label: 'JSON.parse of the same frames', value: 1 },
        { text: '≤ 2× JSON.parse', pass: perMessage <= 2 },
      ),
      against(
        'cost per message, 10,000 jobs vs 1 (alternating)',
        scaling,
        '×',
        { label: '1 job listening', value: 1 },
        { text: '≤ 1.2×', pass: scaling <= 1.2 },
      ),
      against('GC time per message, 10,000 idle jobs', gcMany.gcµs, 'µs', {
        label: 'GC time per message, 1 job',
        value: gcOne.gcµs,
      }),
      against('time per message incl. GC, 10,000 idle jobs (alone)', gcMany.µs, 'µs', {
        label: 'same with 1 job (alone)',
        value: gcOne.µs,
      }),
    ],
    markdown,
  }
}

if (process.argv[2] === 'allocations') {
  const parent = parentChannel(() => undefined)
  parent.send({ type: 'allocations', bytes: await allocations() })
} else {
  runIfMain(import.meta.url, hotPath)
}
