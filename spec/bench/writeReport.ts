import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, release, tmpdir, totalmem, type } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { median, parseResult, REPO_ROOT, type Section } from './support/measure.js'
import { render } from './support/render.js'

// `npm run bench`: runs every benchmark of issue 7 — the vitest bench files (cost per message,
// scaling with jobs) and the scripts tinybench does not fit (hot path in alternation, memory,
// latency, end to end, SSE fan-out, fallback), issue 15's queue dispatch, issue 17's progress
// truth and issue 16's cost against a minimal client, each in a process of its own — and writes BENCHMARKS.md with the machine's details.
// Every figure is set against a baseline measured in the same run. Options: --only=id,id
// (vitest,hot-path,memory,latency,end-to-end,sse-fan-out,fallback,queue-dispatch,progress-truth,
// client-cost)
// --out=BENCHMARKS.md --json=results.json.

const SCRIPTS = [
  { id: 'hot-path', file: 'hotPath.ts' },
  { id: 'memory', file: 'memory.ts' },
  { id: 'latency', file: 'latency.ts' },
  { id: 'end-to-end', file: 'endToEnd.ts' },
  { id: 'sse-fan-out', file: 'sseFanout.ts' },
  { id: 'fallback', file: 'fallback.ts' },
  { id: 'queue-dispatch', file: 'queueDispatch.ts' },
  { id: 'progress-truth', file: 'progressTruth.ts' },
  { id: 'client-cost', file: 'clientCost.ts', deadlineMs: 1_200_000 },
] as const
const SCRIPT_DEADLINE_MS = 240_000
const FRAMES_PER_TASK = 37

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
    json: { type: 'string' },
  },
})
const only = args.only?.split(',')
const wanted = (id: string): boolean => only === undefined || only.includes(id)

interface VitestBench {
  readonly name: string
  readonly median: number
  readonly min: number
  readonly rme: number
  readonly sampleCount: number
}

/** Runs a command; its output goes to this process's stderr; resolves with its stdout. */
function run(
  command: string,
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  deadlineMs = SCRIPT_DEADLINE_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      for (const line of chunk.toString().split('\n')) {
        if (line !== '' && !line.startsWith('BENCH_RESULT ')) process.stderr.write(`${line}\n`)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`${command} ${argv.join(' ')} ended with ${code ?? signal}`))
    })
  })
}

async function vitestSections(): Promise<Section[]> {
  const dir = mkdtempSync(join(tmpdir(), 'comfyui-rx-bench-'))
  const output = join(dir, 'bench.json')
  try {
    await run(
      process.execPath,
      [
        'node_modules/vitest/vitest.mjs',
        'bench',
        '--run',
        '--no-file-parallelism',
        '--outputJson',
        output,
      ],
      { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --expose-gc`.trim() },
    )
    const results = JSON.parse(readFileSync(output, 'utf8')) as {
      files: { groups: { fullName: string; benchmarks: VitestBench[] }[] }[]
    }
    const benches = new Map(
      results.files.flatMap((file) =>
        file.groups.flatMap((group) => group.benchmarks.map((b) => [b.name, b] as const)),
      ),
    )
    const get = (name: string): VitestBench => {
      const found = benches.get(name)
      if (found === undefined) throw new Error(`no bench named "${name}"`)
      return found
    }
    return [costSection(get, [...benches.keys()]), scalingSection(get)]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const µs = (b: VitestBench): number => (b.median * 1000) / FRAMES_PER_TASK

function costSection(get: (name: string) => VitestBench, names: string[]): Section {
  const parse = get('JSON.parse (baseline)')
  const whole = get('decode + route + reduce + throttle, 1 job')
  const stages = names.filter((name) => !/job\(s\) listening$/.test(name))
  const ratio = whole.median / parse.median
  return {
    id: 'cost-per-message',
    title: '1. Cost per WebSocket message (vitest bench)',
    method:
      'spec/bench/messageCost.bench.ts: each task handles the 37 recorded frames of a running ' +
      'prompt (spec/fixtures/comfyui-0.3.64/progress.jsonl: progress_state, progress, executing, ' +
      'executed) once, through a real ComfyPod over an in-process socket; medians of tinybench ' +
      'samples (1 s per task). Tasks run one after another, so load from other processes can ' +
      'fall on one task and not another: see the alternating measurement below.',
    figures: [
      {
        label: 'decode + validate + route + reduce + throttle, 1 job',
        value: µs(whole),
        unit: 'µs',
        baseline: { label: 'JSON.parse of the same frames', value: µs(parse), unit: 'µs' },
        ratio,
        target: '≤ 2× JSON.parse',
        pass: ratio <= 2,
      },
    ],
    markdown: [
      '| task | µs per message (median) | × JSON.parse | min × JSON.parse | ±rme |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...stages.map((name) => {
        const b = get(name)
        return `| ${name} | ${µs(b).toFixed(2)} | ${(b.median / parse.median).toFixed(2)}× | ${(b.min / parse.min).toFixed(2)}× | ${b.rme.toFixed(1)}% |`
      }),
    ].join('\n'),
  }
}

function scalingSection(get: (name: string) => VitestBench): Section {
  const counts = [1, 100, 1000, 10000]
  const flood = (n: number) => get(`same flood, ${n} job(s) listening`)
  const churn = (n: number) => get(`start + end one job, ${n} job(s) listening`)
  const ratio = flood(10000).median / flood(1).median
  return {
    id: 'scaling',
    title: '2. Scaling with jobs listening on one pod (vitest bench)',
    method:
      'spec/bench/jobScaling.bench.ts: the same flood with 1, 100, 1,000 and 10,000 jobs ' +
      'listening (one set alive at a time, collected before its samples), and starting + ending ' +
      'one more job; medians of tinybench samples.',
    figures: [
      {
        label: 'flood, 10,000 jobs listening, per message',
        value: µs(flood(10000)),
        unit: 'µs',
        baseline: { label: '1 job listening', value: µs(flood(1)), unit: 'µs' },
        ratio,
        target: '≤ 1.2×',
        pass: ratio <= 1.2,
      },
    ],
    markdown: [
      '| jobs listening | flood, µs per message | × 1 job | min × 1 job | start + end one job, µs | × 1 job |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...counts.map(
        (n) =>
          `| ${n.toLocaleString('en')} | ${µs(flood(n)).toFixed(2)} | ${(flood(n).median / flood(1).median).toFixed(2)}× | ${(flood(n).min / flood(1).min).toFixed(2)}× | ${(churn(n).median * 1000).toFixed(1)} | ${(churn(n).median / churn(1).median).toFixed(2)}× |`,
      ),
    ].join('\n'),
  }
}

async function scriptSection(file: string, deadlineMs?: number): Promise<Section> {
  const stdout = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', `spec/bench/${file}`],
    {},
    deadlineMs,
  )
  return parseResult(stdout)
}

function machine(): [string, string][] {
  const cores = cpus()
  const git = (...argv: string[]): string => {
    try {
      return execFileSync('git', argv, { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  }
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length
  return [
    ['CPU', `${cores[0]?.model ?? 'unknown'}`],
    ['cores', String(cores.length)],
    [
      'memory',
      `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the start)`,
    ],
    ['OS', `${type()} ${release()}`],
    ['Node.js', process.version],
    [
      'commit',
      `${git('rev-parse', '--short', 'HEAD')}${dirty > 0 ? ` + ${dirty} changed file(s) in src/` : ''}`,
    ],
  ]
}

const started = new Date()
const info = machine()
const loadBefore = loadavg()
const sections: Section[] = []
const failures: string[] = []
const timings: string[] = []
const attempt = async (id: string, produce: () => Promise<Section[]>): Promise<void> => {
  if (!wanted(id)) return
  const start = performance.now()
  process.stderr.write(`\n▶ ${id}\n`)
  try {
    sections.push(...(await produce()))
  } catch (error) {
    failures.push(`${id}: ${error instanceof Error ? error.message : String(error)}`)
  }
  timings.push(`${id} ${((performance.now() - start) / 1000).toFixed(0)} s`)
}
await attempt('vitest', vitestSections)
for (const script of SCRIPTS) {
  const deadlineMs = 'deadlineMs' in script ? script.deadlineMs : undefined
  await attempt(script.id, async () => [await scriptSection(script.file, deadlineMs)])
}
const loadAfter = loadavg()
info.push(
  ['date', started.toISOString()],
  [
    'load average (1 min)',
    `${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after`,
  ],
  ['duration', `${((Date.now() - started.getTime()) / 1000).toFixed(0)} s (${timings.join(', ')})`],
)
writeFileSync(join(REPO_ROOT, args.out), render(sections, failures, info))
if (args.json !== undefined)
  writeFileSync(args.json, JSON.stringify({ info, sections, failures }, null, 2))
process.stderr.write(
  `\nwrote ${args.out}: ${sections.length} sections, ${failures.length} failed; ` +
    `median load ${median([loadBefore[0]!, loadAfter[0]!]).toFixed(2)}\n`,
)
process.exit(failures.length === 0 ? 0 : 1)
