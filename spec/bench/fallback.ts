import { ComfyPod, type ComfyPodOptions, type ExecuteWorkflowOptions } from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { against, type Figure, median, runIfMain, type Section } from './support/measure.js'
import { txt2imgWith } from './support/workflows.js'

// Issue 7, measurement 7: from socket loss to the first REST poll, and to the completion of a
// job whose prompt finished during the gap, over real sockets to a simulator. Each time is set
// against the option that should bound it, configured in the same run: the reconnect budget
// (the pod gives up on the socket, then polls), pollIntervalMs, stallTimeoutMs (a silent socket).

const REPS = Number(process.env['BENCH_FALLBACK_REPS'] ?? 5)
const WITH_DEFAULTS = process.env['BENCH_FALLBACK_DEFAULTS'] !== '0'

interface Timeline {
  readonly lossAt: number
  readonly finishedAt: number
  /** The first GET /queue after the loss. */
  readonly firstPollAt: number
  /** The pod's `failed` state (given up on the socket), or NaN. */
  readonly failedAt: number
  /** The socket open again, or NaN. */
  readonly reopenedAt: number
  readonly completedAt: number
  readonly source: string
}

type Loss = 'refused' | 'silent' | 'refused-then-back'

async function timeline(
  simulator: ComfySimulator,
  loss: Loss,
  podOptions: ComfyPodOptions,
  jobOptions: ExecuteWorkflowOptions,
): Promise<Timeline> {
  const pod = new ComfyPod(simulator.url, podOptions)
  let lossAt = Number.NaN
  let finishedAt = Number.NaN
  let firstPollAt = Number.NaN
  let failedAt = Number.NaN
  let reopenedAt = Number.NaN
  // The job asks GET /queue once for its position when POST /prompt answers: the loss waits for
  // it, so that the next GET /queue is a poll.
  let positionAsked = false
  const onRequest = (method: string, path: string): void => {
    if (method !== 'GET' || path !== '/queue') return
    if (lossAt >= 0 && !(firstPollAt >= 0)) firstPollAt = performance.now()
    positionAsked = true
  }
  const onFinished = (): void => {
    finishedAt = performance.now()
    if (loss === 'refused-then-back') simulator.refuseSockets(false)
  }
  simulator.on('request', onRequest)
  simulator.once('promptFinished', onFinished)
  const states = pod.connection$.subscribe((state) => {
    if (!(lossAt >= 0)) return
    if (state.state === 'failed' && !(failedAt >= 0)) failedAt = performance.now()
    if (state.state === 'open' && !(reopenedAt >= 0)) reopenedAt = performance.now()
  })
  try {
    const end = await new Promise<{ at: number; source: string }>((resolve, reject) => {
      pod.executeWorkflow$(txt2imgWith(8), jobOptions).subscribe({
        next: (event) => {
          // The loss comes with a progress event: the prompt is running, a few steps to go.
          if (event.type === 'progress' && positionAsked && !(lossAt >= 0)) {
            lossAt = performance.now()
            if (loss === 'silent') {
              simulator.setSilent(true)
            } else {
              simulator.refuseSockets(true)
              simulator.dropSockets()
            }
          }
          if (event.type === 'completed') resolve({ at: performance.now(), source: event.source })
        },
        error: reject,
      })
    })
    if (!(finishedAt < firstPollAt) && loss !== 'refused-then-back')
      throw new Error(`${loss}: the prompt did not finish during the gap`)
    return { lossAt, finishedAt, firstPollAt, failedAt, reopenedAt, completedAt: end.at, ...end }
  } finally {
    states.unsubscribe()
    simulator.off('request', onRequest)
    simulator.off('promptFinished', onFinished)
    simulator.setSilent(false)
    simulator.refuseSockets(false)
    pod.close()
  }
}

async function repeat(
  reps: number,
  run: (simulator: ComfySimulator) => Promise<Timeline>,
): Promise<Timeline[]> {
  const timelines: Timeline[] = []
  for (let i = 0; i < reps; i++) {
    const simulator = await startComfySimulator({ stepDurationMs: 10, nodeDurationMs: 1 })
    try {
      timelines.push(await run(simulator))
    } finally {
      await simulator.close()
    }
  }
  return timelines
}

const medianOf = (timelines: Timeline[], span: (t: Timeline) => number): number =>
  median(timelines.map(span))

/**
 * The longest time the pod may spend reconnecting before it gives up, as ComfyPodOptions documents
 * the backoff: attempt n (from 1) waits [0.5, 1] × min(cap, base × 2^(n−1)).
 */
function reconnectBudget(attempts: number, baseMs: number, capMs: number): number {
  let total = 0
  for (let n = 1; n <= attempts; n++) total += Math.min(capMs, baseMs * 2 ** (n - 1))
  return total
}

export async function fallback(): Promise<Section> {
  const fast: ComfyPodOptions = {
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 1000,
    maxReconnectAttempts: 3,
    connectTimeoutMs: 1000,
  }
  const job: ExecuteWorkflowOptions = {
    progressThrottleMs: 0,
    pollIntervalMs: 500,
    stallTimeoutMs: 500,
  }
  const budget = reconnectBudget(3, 100, 1000)
  const refused = await repeat(REPS, (s) => timeline(s, 'refused', fast, job))
  const silent = await repeat(REPS, (s) => timeline(s, 'silent', fast, job))
  const back = await repeat(REPS, (s) =>
    timeline(s, 'refused-then-back', { ...fast, maxReconnectAttempts: 20 }, job),
  )
  const poll = { label: 'pollIntervalMs', value: job.pollIntervalMs! }
  const figures: Figure[] = [
    against(
      'socket refused: loss → pod gives up (failed)',
      medianOf(refused, (t) => t.failedAt - t.lossAt),
      'ms',
      { label: 'documented reconnect budget, 3 attempts from 100 ms: at most', value: budget },
    ),
    against(
      'socket refused: loss → first poll',
      medianOf(refused, (t) => t.firstPollAt - t.lossAt),
      'ms',
      poll,
    ),
    against(
      'socket refused: gave up → first poll',
      medianOf(refused, (t) => t.firstPollAt - t.failedAt),
      'ms',
      poll,
    ),
    against(
      'socket refused: loss → completed (prompt ended in the gap)',
      medianOf(refused, (t) => t.completedAt - t.lossAt),
      'ms',
      poll,
    ),
    against(
      'socket silent: loss → first poll',
      medianOf(silent, (t) => t.firstPollAt - t.lossAt),
      'ms',
      { label: 'stallTimeoutMs', value: job.stallTimeoutMs! },
    ),
    against(
      'socket silent: loss → completed (prompt ended in the gap)',
      medianOf(silent, (t) => t.completedAt - t.lossAt),
      'ms',
      { label: 'stallTimeoutMs', value: job.stallTimeoutMs! },
    ),
    against(
      'socket back after the prompt ended: reopened → completed',
      medianOf(back, (t) => t.completedAt - t.reopenedAt),
      'ms',
      poll,
    ),
  ]
  const notes = [
    `Medians of ${REPS} runs each; job options ${JSON.stringify(job)}; pod options ` +
      `${JSON.stringify(fast)}. Sources of the completions: ` +
      [...new Set([...refused, ...silent, ...back].map((t) => t.source))].join(', ') +
      '.',
    'A lost socket is polled once the pod gives up reconnecting (connection `failed`) or when the ' +
      "job's stall watchdog fires (stallTimeoutMs), whichever comes first; 'not reached' means " +
      'the job had completed over REST before the pod gave up.',
    `The documented reconnect budget is ${budget / 2}–${budget} ms (the wait doubles with each ` +
      'failed attempt, with jitter in [0.5, 1]).',
  ]
  if (WITH_DEFAULTS) {
    const [defaults] = await repeat(1, (s) =>
      timeline(s, 'refused', {}, { ...job, pollIntervalMs: 1000, stallTimeoutMs: 60_000 }),
    )
    figures.push(
      against(
        'library defaults, socket refused: loss → first poll',
        defaults!.firstPollAt - defaults!.lossAt,
        'ms',
        { label: 'default pollIntervalMs', value: 1000 },
      ),
    )
    notes.push(
      `With the default pod options (3 attempts, 500 ms base, 30 s cap) the documented budget is ` +
        `${reconnectBudget(3, 500, 30_000) / 2}–${reconnectBudget(3, 500, 30_000)} ms (one run).`,
    )
  }
  return {
    id: 'fallback',
    title: '7. Fallback: socket loss → first poll → completion',
    method:
      'A ComfyPod runs an 8-step prompt on a simulator (10 ms a step); at a progress event ' +
      '(once the job has asked for its queue position) the socket is lost: dropped and refused, or silent (open, nothing sent), or ' +
      'dropped and accepted again once the prompt has finished. Times from performance.now() ' +
      "in the same process, the first poll being the simulator's first GET /queue after the loss.",
    figures,
    notes,
  }
}

runIfMain(import.meta.url, fallback)
