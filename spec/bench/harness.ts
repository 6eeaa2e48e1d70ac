import { isRight } from 'fp-ts/lib/Either.js'
import type { Subscription } from 'rxjs'
import { readTrace, type TraceEntry } from '../support/traces.js'
import { fakeSockets, type FakeWebSocket } from '../support/FakeWebSocket.js'
import {
  ComfyPod,
  decodeFrame,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type Workflow,
} from '../../src/index.js'
import type { PodMessage } from '../../src/protocol/decodeFrame.js'
import type { JobState } from '../../src/job/JobState.js'
import { CostModel } from '../../src/job/CostModel.js'
import { initialJobState } from '../../src/job/initialJobState.js'
import { reduceJob } from '../../src/job/reduceJob.js'

export const TARGET = 'bench-target-prompt'

/** tinybench options of every task: a second of samples after a short warm-up. */
export const BENCH_OPTIONS = { time: 1000, warmupTime: 200 } as const

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

/** FRAMES, decoded as the pod delivers them. */
export const MESSAGES: readonly PodMessage[] = FRAMES.map((frame) => {
  const decoded = decodeFrame(frame)
  if (!isRight(decoded)) throw new Error(`a recorded frame does not decode: ${frame}`)
  return decoded.right
})

/** A pod with an open socket and one plain subscriber of `messages$`: decode + socket pipeline. */
export function podWithoutJobs(): { socket: FakeWebSocket; pod: ComfyPod } {
  const { factory, sockets } = fakeSockets()
  const pod = new ComfyPod('http://bench.invalid', { webSocketFactory: factory })
  pod.messages$.subscribe()
  sockets[0]!.open()
  return { socket: sockets[0]!, pod }
}

/** The job reducer alone, fed MESSAGES one by one as a running job of TARGET receives them. */
export function reducerOverMessages(): () => void {
  let state: JobState = initialJobState(TARGET, WORKFLOW, 0, () => '', new CostModel())
  state = reduceJob(state, { kind: 'accepted', at: 0, promptId: TARGET }).state
  let at = 0
  return () => {
    for (const message of MESSAGES)
      state = reduceJob(state, { kind: 'message', at: ++at, message }).state
  }
}

/**
 * A real ComfyPod over a hand-driven socket and an in-memory REST answer, with `jobs` jobs
 * listening: job 0 follows TARGET, the others follow prompts that get no message.
 */
export async function podWithJobs(
  jobs: number,
  onEvent: (event: JobEvent) => void = () => undefined,
  options: ExecuteWorkflowOptions = { progressThrottleMs: 1000, stallTimeoutMs: 3_600_000 },
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
    const job$ = pod.executeWorkflow$(WORKFLOW, options)
    subscriptions.push(job$.subscribe({ next: onEvent }))
  }
  sockets[0]!.open()
  sockets[0]!.receive(JSON.stringify({ type: 'execution_start', data: { prompt_id: TARGET } }))
  // Every job posted and heard its answer: its route is in place.
  while (posted < jobs) await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  return { socket: sockets[0]!, pod, subscriptions }
}
