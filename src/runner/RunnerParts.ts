import type { MonoTypeOperatorFunction, SchedulerLike, Subscription } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import type { PodPool } from './PodPool.js'
import type { RunnerMetricsCounter } from './RunnerMetricsCounter.js'

/** The parts of a `ComfyUIJobRunner` that its jobs work with. */
export interface RunnerParts {
  readonly pool: PodPool
  readonly counter: RunnerMetricsCounter
  readonly scheduler: SchedulerLike
  /** Taps a job's progress into the runner's store, if any. */
  readonly publish: MonoTypeOperatorFunction<JobEvent>
  /** What the runner ends when it is closed. */
  readonly watching: Subscription
}
