import { bench, describe } from 'vitest'
import { BENCH_OPTIONS, FRAMES, podWithJobs, WORKFLOW } from './harness.js'

// Issue 7, measurement 2: the same flood (the recorded frames of one running prompt) with 1,
// 100, 1,000 and 10,000 jobs listening on one pod; the time with N jobs divided by the time
// with 1 is the scaling (target <= 1.2x). Starting and ending a job touches what every job
// shares (routes, the connection state, the shared socket stream): its cost is measured with the
// same jobs listening. One set of jobs lives at a time (10,000 idle jobs hold hundreds of MB, and
// their garbage collections would land in the other tasks' samples).

const JOB_COUNTS = [1, 100, 1_000, 10_000] as const

type Setup = Awaited<ReturnType<typeof podWithJobs>>
let current: { jobs: number; setup: Setup } | undefined

async function withJobs(jobs: number): Promise<void> {
  if (current?.jobs === jobs) return
  release()
  current = { jobs, setup: await podWithJobs(jobs) }
  // The collection that building them calls for happens now, not in the first samples.
  gc()
}

function gc(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

function release(): void {
  if (current === undefined) return
  for (const subscription of current.setup.subscriptions) subscription.unsubscribe()
  current.setup.pod.close()
  current = undefined
  gc()
}

describe('scaling with jobs listening on one pod', () => {
  for (const jobs of JOB_COUNTS) {
    const setup = () => withJobs(jobs)
    bench(
      `same flood, ${jobs} job(s) listening`,
      () => {
        for (const frame of FRAMES) current!.setup.socket.receive(frame)
      },
      { ...BENCH_OPTIONS, setup },
    )
    bench(
      `start + end one job, ${jobs} job(s) listening`,
      () => {
        current!.setup.pod.executeWorkflow$(WORKFLOW).subscribe().unsubscribe()
      },
      { ...BENCH_OPTIONS, setup },
    )
  }
})
