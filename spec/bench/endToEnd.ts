import { randomUUID } from 'node:crypto'
import { WebSocket } from 'ws'
import { ComfyUIJobRunner, type Workflow } from '../../src/index.js'
import { against, Child, cpuMs, runIfMain, type Section, until } from './support/measure.js'
import { cpuProfile } from './support/profile.js'
import { txt2imgWith } from './support/workflows.js'

// Issue 7, measurement 5: 1,000 jobs on 10 simulated pods through ComfyUIJobRunner, and the
// client's CPU time per job, against a bare client (ws + fetch, JSON.parse of every frame) that
// runs the same jobs on the same pods. The pods run in a child process: the CPU measured here
// is the client's alone.

const PODS = Number(process.env['BENCH_E2E_PODS'] ?? 10)
const JOBS = Number(process.env['BENCH_E2E_JOBS'] ?? 1000)
const WARMUP_JOBS = Math.min(100, JOBS)
const STEPS = 10
const CONCURRENCY_PER_POD = 2
const PROFILED_JOBS = Math.min(300, JOBS)

/** Module of a profiled function, for the whole client. */
function bucketOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (functionName === '(program)') return 'V8 and native code outside JS functions'
  if (url.includes('undici')) return 'fetch (undici)'
  if (url.includes('/node_modules/ws/')) return 'ws'
  if (url.includes('/node_modules/rxjs-websockets/')) return 'rxjs-websockets'
  if (url.includes('/node_modules/rxjs/')) return 'RxJS operators and subjects'
  if (url.includes('/node_modules/io-ts/') || url.includes('/node_modules/fp-ts/'))
    return 'io-ts / fp-ts (decoding frames and REST bodies)'
  const source = /\/src\/(\w+)\//.exec(url)?.[1]
  if (source === 'protocol' && functionName === 'decodeText')
    return 'JSON.parse of frames (decodeText)'
  if (source !== undefined) return `src/${source}/`
  if (url.includes('/spec/')) return 'benchmark (workflows, promises)'
  if (url.startsWith('node:')) return 'Node.js internals (http, net, streams, timers, crypto)'
  return functionName === '' ? 'native (anonymous)' : 'native builtins'
}

interface Pass {
  readonly cpuMs: number
  readonly wallMs: number
}

/** The least a client can do: POST /prompt, wait for `executing null`, read the history. */
async function bareClient(urls: readonly string[], jobs: number): Promise<Pass> {
  const sockets = await Promise.all(
    urls.map(async (url) => {
      const clientId = randomUUID()
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?clientId=${clientId}`)
      const waiting = new Map<string, () => void>()
      socket.on('message', (data, isBinary) => {
        if (isBinary) return
        const message = JSON.parse(String(data)) as {
          type: string
          data: { node?: string | null; prompt_id?: string }
        }
        if (message.type === 'executing' && message.data.node === null) {
          waiting.get(message.data.prompt_id ?? '')?.()
        }
      })
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
      return { url, clientId, socket, waiting }
    }),
  )
  let next = 0
  const images: string[] = []
  const start = performance.now()
  const startCpu = cpuMs()
  await Promise.all(
    sockets.flatMap((pod) =>
      Array.from({ length: CONCURRENCY_PER_POD }, async () => {
        while (next < jobs) {
          next++
          const promptId = randomUUID()
          const done = new Promise<void>((resolve) => pod.waiting.set(promptId, resolve))
          const posted = await fetch(`${pod.url}/prompt`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              prompt: txt2imgWith(STEPS),
              client_id: pod.clientId,
              prompt_id: promptId,
            }),
          })
          if (!posted.ok) throw new Error(`POST /prompt: ${posted.status}`)
          await posted.json()
          await done
          pod.waiting.delete(promptId)
          const history = (await (await fetch(`${pod.url}/history/${promptId}`)).json()) as Record<
            string,
            { outputs: Record<string, { images?: { filename: string }[] }> }
          >
          for (const output of Object.values(history[promptId]?.outputs ?? {})) {
            for (const image of output.images ?? [])
              images.push(`${pod.url}/view?${image.filename}`)
          }
        }
      }),
    ),
  )
  const pass = { cpuMs: cpuMs() - startCpu, wallMs: performance.now() - start }
  for (const pod of sockets) pod.socket.close()
  if (images.length !== jobs) throw new Error(`bare client: ${images.length} images`)
  return pass
}

async function runnerPass(runner: ComfyUIJobRunner, jobs: number): Promise<Pass> {
  const workflows: Workflow[] = Array.from({ length: jobs }, () => txt2imgWith(STEPS))
  const start = performance.now()
  const startCpu = cpuMs()
  const results = await Promise.all(workflows.map((workflow) => runner.submit(workflow)))
  const pass = { cpuMs: cpuMs() - startCpu, wallMs: performance.now() - start }
  const viaSocket = results.filter((result) => result.method === 'websocket').length
  if (results.length !== jobs || viaSocket !== jobs)
    throw new Error(`runner: ${results.length} results, ${viaSocket} over the socket`)
  return pass
}

export async function endToEnd(): Promise<Section> {
  const pods = new Child('support/simulators.ts', [
    String(PODS),
    JSON.stringify({ stepDurationMs: 1, nodeDurationMs: 1, previews: false }),
  ])
  try {
    const { urls } = await pods.next<{ type: 'ready'; urls: string[] }>('ready')
    const runner = new ComfyUIJobRunner({ pods: urls, concurrencyPerPod: CONCURRENCY_PER_POD })
    try {
      await until(() => runner.pods.every((pod) => pod.healthy), 'healthy pods')
      // Warm both paths up (JIT, connection pools) before anything is counted.
      await bareClient(urls, WARMUP_JOBS)
      await runnerPass(runner, WARMUP_JOBS)
      const bare = await bareClient(urls, JOBS)
      const library = await runnerPass(runner, JOBS)
      const cpu = await cpuProfile(
        async () => {
          await runnerPass(runner, PROFILED_JOBS)
        },
        { bucketOf },
      )
      const baseline = {
        label: 'bare ws + fetch client, same jobs and pods',
        value: bare.cpuMs / JOBS,
      }
      return {
        id: 'end-to-end',
        title: `5. End to end: ${JOBS.toLocaleString('en')} jobs on ${PODS} simulated pods`,
        method:
          `ComfyUIJobRunner (concurrencyPerPod ${CONCURRENCY_PER_POD}, default job options) runs ` +
          `${JOBS} txt2img jobs (${STEPS} steps) on ${PODS} simulators in a child process over ` +
          'real sockets; client CPU is process.cpuUsage() of this process (all threads). ' +
          'Baseline: a bare client (one ws per pod, JSON.parse of every frame, POST /prompt, ' +
          `wait for executing null, GET /history) running the same ${JOBS} jobs just before.`,
        figures: [
          against('client CPU per job', library.cpuMs / JOBS, 'ms', baseline),
          against('wall time per job (all pods)', library.wallMs / JOBS, 'ms', {
            label: 'bare client',
            value: bare.wallMs / JOBS,
          }),
        ],
        markdown: [
          `**Where the client's time goes**: CPU profile of ${PROFILED_JOBS} more runner jobs ` +
            `(main thread, 100 µs sampling), self time by module; GC ` +
            `${(cpu.gcShare * 100).toFixed(1)}% of the busy samples.`,
          '',
          '| module | share | ms per job |',
          '| --- | ---: | ---: |',
          ...cpu.buckets.map(
            ([bucket, share]) =>
              `| ${bucket} | ${(share * 100).toFixed(1)}% | ${((share * library.cpuMs) / JOBS).toFixed(2)} |`,
          ),
          '',
          '| hottest functions | share |',
          '| --- | ---: |',
          ...cpu.functions.map(([name, share]) => `| ${name} | ${(share * 100).toFixed(1)}% |`),
        ].join('\n'),
        notes: [
          `Runner: ${(JOBS / (library.wallMs / 1000)).toFixed(0)} jobs/s, ` +
            `${((library.cpuMs / library.wallMs) * 100).toFixed(0)}% of one core. ` +
            `Bare client: ${(JOBS / (bare.wallMs / 1000)).toFixed(0)} jobs/s, ` +
            `${((bare.cpuMs / bare.wallMs) * 100).toFixed(0)}% of one core.`,
          'Wall time is set by the simulated pods (one prompt at a time each), not the client.',
        ],
      }
    } finally {
      runner.close()
    }
  } finally {
    await pods.stop()
  }
}

runIfMain(import.meta.url, endToEnd)
