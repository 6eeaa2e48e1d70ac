import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { ComfyPod, type Workflow } from '../../src/index.js'
import { readTrace } from '../support/traces.js'
import {
  against,
  Child,
  cpuMs,
  median,
  parentChannel,
  runIfMain,
  type Section,
  settledHeap,
} from './support/measure.js'

// Issue 16: client CPU per WebSocket frame and heap per queued job, comfyui-rx
// (`ComfyPod.executeWorkflow$`, default options) against a minimal hand-written client (`ws` +
// `JSON.parse` + a `Map` + one `fetch` POST per job, following progress until
// `executing {node: null}`), over real sockets on 127.0.0.1 against a server replaying the
// recorded frames (support/replayServer.ts). Every run is a fresh child process: it queues all
// its jobs at once, the server runs them one after another as fast as the socket takes them.
// The two clients alternate, run after run; a ratio is taken within a run pair, then the median
// over pairs.

const RUNS = Number(process.env['BENCH_CLIENT_RUNS'] ?? 5)
/** `BENCH_CLIENT_ONLY=1000x20` measures that configuration alone. */
const ONLY = process.env['BENCH_CLIENT_ONLY']
const CONFIGS = [
  { jobs: 1, steps: 5000 },
  { jobs: 100, steps: 200 },
  { jobs: 1_000, steps: 20 },
  { jobs: 10_000, steps: 2 },
].filter(({ jobs, steps }) => ONLY === undefined || ONLY === `${jobs}x${steps}`)
type Client = 'comfyui-rx' | 'minimal'
/** How long a client waits, all its jobs queued, before the heap it holds for them is read. */
const SETTLE_MS = 1_000

const WORKFLOW = (
  readTrace('progress').find((entry) => entry.dir === 'http' && entry.method === 'POST') as {
    req: { prompt: Workflow }
  }
).req.prompt

/** What a client run reports. */
interface Run {
  readonly cpuMs: number
  /** Once every job is queued and the client has been idle for `SETTLE_MS`. */
  readonly heapPerJob: number
  /** Right after the last job was queued (REST reads of the queue may be under way). */
  readonly heapPerJobAtOnce: number
}

/**
 * The minimal client: one socket, a `Map` of the prompts it follows, one `fetch` POST per job;
 * a job ends with `executing {node: null}`. Resolves once every job has been queued, with the
 * jobs' ends (in an object: a promise would be awaited with it).
 */
async function minimal(url: string, jobs: number): Promise<{ ended: Promise<unknown> }> {
  interface Followed {
    node: string | null
    value: number
    max: number
    readonly outputs: unknown[]
    readonly end: () => void
  }
  const clientId = randomUUID()
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?clientId=${clientId}`)
  const followed = new Map<string, Followed>()
  socket.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return
    const message = JSON.parse(data.toString()) as {
      type: string
      data: { prompt_id?: string; node?: string | null; value?: number; max?: number }
    }
    const promptId = message.data.prompt_id
    const job = promptId === undefined ? undefined : followed.get(promptId)
    if (job === undefined) return
    if (message.type === 'progress') {
      job.value = message.data.value!
      job.max = message.data.max!
    } else if (message.type === 'executed') {
      job.outputs.push((message.data as { output: unknown }).output)
    } else if (message.type === 'executing') {
      job.node = message.data.node ?? null
      if (job.node === null) {
        followed.delete(promptId!)
        job.end()
      }
    }
  })
  await once(socket, 'open')
  const ends: Promise<void>[] = []
  const posts: Promise<unknown>[] = []
  for (let i = 0; i < jobs; i++) {
    const promptId = randomUUID()
    ends.push(
      new Promise<void>((end) =>
        followed.set(promptId, { node: null, value: 0, max: 0, outputs: [], end }),
      ),
    )
    posts.push(
      fetch(`${url}/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: WORKFLOW, client_id: clientId, prompt_id: promptId }),
      }).then((response) => response.json()),
    )
  }
  await Promise.all(posts)
  return { ended: Promise.all(ends).then(() => socket.close()) }
}

/** comfyui-rx: one pod, `executeWorkflow$` per job with the defaults. */
function comfyuiRx(url: string, jobs: number): Promise<unknown> {
  const pod = new ComfyPod(url)
  const ends: Promise<void>[] = []
  for (let i = 0; i < jobs; i++) {
    ends.push(
      new Promise<void>((resolve, reject) =>
        pod.executeWorkflow$(WORKFLOW).subscribe({ error: reject, complete: resolve }),
      ),
    )
  }
  return Promise.all(ends).then(() => pod.close())
}

/** In the child: one run of one client; the parent starts the server's run once all are queued. */
async function clientRun(client: Client, url: string, jobs: number): Promise<Run> {
  const parent = parentChannel(() => undefined)
  const heapBefore = await settledHeap()
  const start = cpuMs()
  const ended = client === 'minimal' ? (await minimal(url, jobs)).ended : comfyuiRx(url, jobs)
  // Every job queued on the server (the answers to their POSTs handled meanwhile).
  for (;;) {
    const response = await fetch(`${url}/prompt`)
    const { exec_info } = (await response.json()) as { exec_info: { queue_remaining: number } }
    if (exec_info.queue_remaining >= jobs) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  // The collections are left out of the CPU; what the client does meanwhile is not.
  let measuring = cpuMs()
  const heapPerJobAtOnce = ((await settledHeap()) - heapBefore) / jobs
  let measured = cpuMs() - measuring
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  measuring = cpuMs()
  const heapPerJob = ((await settledHeap()) - heapBefore) / jobs
  measured += cpuMs() - measuring
  parent.send({ type: 'queued' })
  await ended
  return { cpuMs: cpuMs() - start - measured, heapPerJob, heapPerJobAtOnce }
}

interface Pair {
  readonly frames: number
  readonly rx: Run
  readonly minimal: Run
  readonly requests: Record<string, number>
}

async function measureOnce(
  server: Child,
  url: string,
  client: Client,
  jobs: number,
  steps: number,
): Promise<{ run: Run; frames: number; requests: Record<string, number> }> {
  await server.ask({ type: 'reset' }, 'reset')
  const child = new Child('clientCost.ts', ['client', client, url, String(jobs)], ['--expose-gc'])
  try {
    await child.next('queued', 120_000)
    const ran = server.next<{ type: 'ran'; frames: number }>('ran', 180_000)
    server.send({ type: 'run', steps })
    const { frames } = await ran
    const run = await child.next<{
      type: 'done'
      cpuMs: number
      heapPerJob: number
      heapPerJobAtOnce: number
    }>('done', 60_000)
    const { requests } = await server.ask<{ type: 'requests'; requests: Record<string, number> }>(
      { type: 'requests' },
      'requests',
    )
    const { cpuMs, heapPerJob, heapPerJobAtOnce } = run
    return { run: { cpuMs, heapPerJob, heapPerJobAtOnce }, frames, requests }
  } finally {
    await child.stop()
  }
}

const µs = (run: Run, frames: number): number => (run.cpuMs * 1000) / frames
const kb = (bytes: number): string => (bytes / 1024).toFixed(2)

export async function clientCost(): Promise<Section> {
  const server = new Child('support/replayServer.ts')
  const { url } = await server.next<{ type: 'ready'; url: string }>('ready')
  const results = new Map<string, Pair[]>()
  try {
    for (const { jobs, steps } of CONFIGS) {
      const pairs: Pair[] = []
      for (let run = 0; run < RUNS; run++) {
        const order: Client[] =
          run % 2 === 0 ? ['minimal', 'comfyui-rx'] : ['comfyui-rx', 'minimal']
        const got = new Map<Client, Awaited<ReturnType<typeof measureOnce>>>()
        for (const client of order)
          got.set(client, await measureOnce(server, url, client, jobs, steps))
        pairs.push({
          frames: got.get('minimal')!.frames,
          rx: got.get('comfyui-rx')!.run,
          minimal: got.get('minimal')!.run,
          requests: got.get('comfyui-rx')!.requests,
        })
        const rx = got.get('comfyui-rx')!.run.cpuMs
        const bare = got.get('minimal')!.run.cpuMs
        process.stderr.write(
          `${jobs} × ${steps}, run ${run + 1}: ${(rx / bare).toFixed(2)}× ` +
            `(${rx.toFixed(0)} / ${bare.toFixed(0)} ms)\n`,
        )
      }
      results.set(`${jobs}×${steps}`, pairs)
    }
  } finally {
    await server.stop()
  }

  const rows = CONFIGS.map(({ jobs, steps }) => {
    const pairs = results.get(`${jobs}×${steps}`)!
    const ratios = pairs.map((p) => p.rx.cpuMs / p.minimal.cpuMs)
    const frames = pairs[0]!.frames
    const rxµs = median(pairs.map((p) => µs(p.rx, p.frames)))
    const minimalµs = median(pairs.map((p) => µs(p.minimal, p.frames)))
    const heapRx = median(pairs.map((p) => p.rx.heapPerJob))
    const heapMinimal = median(pairs.map((p) => p.minimal.heapPerJob))
    const atOnceRx = median(pairs.map((p) => p.rx.heapPerJobAtOnce))
    const atOnceMinimal = median(pairs.map((p) => p.minimal.heapPerJobAtOnce))
    const requests = Object.entries(pairs[0]!.requests)
      .filter(([kind]) => kind !== 'GET /prompt' && kind !== 'POST /prompt')
      .map(([kind, count]) => `${kind} ${(count / jobs).toFixed(2)}`)
      .join(', ')
    return {
      jobs,
      steps,
      ratio: median(ratios),
      heapRx,
      heapMinimal,
      row: `| ${jobs.toLocaleString('en')} × ${steps.toLocaleString('en')} | ${frames.toLocaleString('en')} | ${minimalµs.toFixed(2)} | ${rxµs.toFixed(2)} | ${Math.min(...ratios).toFixed(2)}–${median(ratios).toFixed(2)}× | ${kb(heapMinimal)} | ${kb(heapRx)} | ${kb(atOnceMinimal)} | ${kb(atOnceRx)} | ${requests} |`,
    }
  })
  const largest = rows.at(-1)!
  return {
    id: 'client-cost',
    title: '10. Cost per message and per queued job against a minimal ws client (issue 16)',
    method:
      'spec/bench/clientCost.ts: a child process replays the recorded frames of ' +
      'spec/fixtures/comfyui-0.3.64/progress.jsonl (the sampler loop stretched to the steps ' +
      'given, a `progress` and a `progress_state` per step) for every queued prompt, one after ' +
      'another, over a real socket on 127.0.0.1, as fast as the client takes them; it serves ' +
      'POST /prompt, GET /queue (every pending graph, as ComfyUI does) and GET /history/{id}, ' +
      'and has no Jobs API, like ComfyUI 0.3.64. Each run is a fresh client process that queues ' +
      'all its jobs at once: comfyui-rx (`ComfyPod.executeWorkflow$`, defaults) or a minimal ' +
      'client written in the benchmark (`ws` + `JSON.parse` + a `Map` + one `fetch` POST per ' +
      'job, following each prompt until `executing {node: null}`). CPU: `process.cpuUsage()` of ' +
      'the client from its first POST to its last job end (full collections for the heap reading ' +
      'left out), per frame sent. Heap: heap after full collections, less the heap before, per ' +
      `job, once every job is queued and the client has been idle for ${SETTLE_MS} ms (and ` +
      'right after queueing, when comfyui-rx may still be reading GET /queue). ' +
      `${RUNS} runs per client, alternating; a ratio is taken within a run ` +
      'pair, then min–median over pairs.',
    figures: [
      ...rows.map((r) =>
        against(
          `CPU per message, ${r.jobs.toLocaleString('en')} × ${r.steps.toLocaleString('en')}`,
          r.ratio,
          '×',
          { label: 'minimal ws client', value: 1 },
          { text: '≤ 1.3×', pass: r.ratio <= 1.3 },
        ),
      ),
      against(
        `heap per queued job, ${largest.jobs.toLocaleString('en')} queued`,
        largest.heapRx / 1024,
        'KB',
        { label: 'minimal ws client', value: largest.heapMinimal / 1024 },
        {
          text: '≤ minimal + 1 KB',
          pass: largest.heapRx <= largest.heapMinimal + 1024,
        },
      ),
    ],
    markdown: [
      '| jobs × steps | frames | minimal, µs CPU per frame | comfyui-rx, µs CPU per frame | comfyui-rx ÷ minimal (min–median) | minimal, KB heap per queued job | comfyui-rx, KB heap per queued job | same, right after queueing: minimal | comfyui-rx | comfyui-rx requests per job besides POST /prompt |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows.map((r) => r.row),
    ].join('\n'),
  }
}

if (process.argv[2] === 'client') {
  const [, , , client, url, jobs] = process.argv
  const run = await clientRun(client as Client, url!, Number(jobs))
  process.send!({ type: 'done', ...run })
} else {
  runIfMain(import.meta.url, clientCost, 1_200_000)
}
