import { readTrace, type TraceEntry } from '../support/traces.js'
import { fakeSockets, type FakeWebSocket } from '../support/FakeWebSocket.js'
import { ComfyPod, type JobEvent, type Workflow } from '../../src/index.js'
import type { Subscription } from 'rxjs'

export const TARGET = 'bench-target-prompt'

const progressTrace = readTrace('progress')
const recorded = progressTrace.flatMap((entry: TraceEntry) =>
  entry.dir === 'ws-in' && entry.frame === 'text' ? [entry.msg] : [],
)
const promptId = (recorded.find((m) => m.type === 'execution_start')!.data as { prompt_id: string })
  .prompt_id

/**
 * The recorded frames of a running prompt, as its socket brings them: progress_state, progress,
 * executing and executed, re-addressed to TARGET. The start and the end are left out so that a
 * job keeps consuming them however often they are replayed.
 */
export const FRAMES: readonly string[] = recorded
  .filter((m) => ['progress_state', 'progress', 'executing', 'executed'].includes(m.type))
  .filter((m) => (m.data as { node?: unknown }).node !== null)
  .map((m) => JSON.stringify(m).replaceAll(promptId, TARGET))

/** The workflow of the recorded prompt. */
export const WORKFLOW = (
  progressTrace.find((entry) => entry.dir === 'http' && entry.method === 'POST') as {
    req: { prompt: Workflow }
  }
).req.prompt

/**
 * A real ComfyPod over a hand-driven socket and an in-memory REST answer, with `jobs` jobs
 * listening: job 0 follows TARGET, the others follow prompts that get no message.
 */
export async function podWithJobs(
  jobs: number,
  onEvent: (event: JobEvent) => void = () => undefined,
): Promise<{ socket: FakeWebSocket; pod: ComfyPod; subscriptions: Subscription[] }> {
  const { factory, sockets } = fakeSockets()
  let posted = 0
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = String(input)
    if (init?.method === 'POST' && url.endsWith('/prompt')) {
      const id = posted++ === 0 ? TARGET : `idle-${posted}`
      return Response.json({ prompt_id: id, number: posted, node_errors: {} })
    }
    if (url.includes('/queue')) return Response.json({ queue_running: [], queue_pending: [] })
    return Response.json({})
  }
  const pod = new ComfyPod('http://bench.invalid', { webSocketFactory: factory, fetch })
  const subscriptions: Subscription[] = []
  for (let i = 0; i < jobs; i++) {
    const job$ = pod.executeWorkflow$(WORKFLOW, {
      progressThrottleMs: 1000,
      stallTimeoutMs: 3_600_000,
    })
    subscriptions.push(job$.subscribe({ next: onEvent }))
  }
  sockets[0]!.open()
  sockets[0]!.receive(JSON.stringify({ type: 'execution_start', data: { prompt_id: TARGET } }))
  // Every job posted and heard its answer: its route is in place.
  while (posted < jobs) await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  return { socket: sockets[0]!, pod, subscriptions }
}
