import { BehaviorSubject, type Observable } from 'rxjs'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { captureSafely } from '../analytics/captureSafely.js'
import {
  countEvent,
  metricsOf,
  NO_COUNTS,
  type RunnerCounts,
  type RunnerMetrics,
} from './RunnerMetrics.js'

/** The counters a runner bumps itself; the others come from the analytics events. */
type RunnerCounter = 'jobs' | 'dispatched' | 'retried' | 'progressUpdates'

/**
 * The funnel of a runner as it goes: the runner's own counters, and those of the analytics
 * events it sends through `sink` on their way to the user's sink. Nothing is published once the
 * runner is closed.
 */
export class RunnerMetricsCounter {
  /** The metrics, current ones first, then on every change. */
  readonly metrics$: Observable<RunnerMetrics>
  /** The user's sink, with the runner's metrics counted on the way. */
  readonly sink: AnalyticsSink

  // A BehaviorSubject: the counts change imperatively (dispatch, events), and metrics$ must
  // replay the current value to late subscribers, as `metrics` does.
  private readonly state = new BehaviorSubject<RunnerMetrics>(metricsOf(NO_COUNTS))
  private counts: RunnerCounts = NO_COUNTS

  constructor(
    userSink: AnalyticsSink,
    private readonly isClosed: () => boolean,
  ) {
    this.metrics$ = this.state.asObservable()
    this.sink = {
      capture: (event) => {
        this.update(countEvent(this.counts, event))
        captureSafely(userSink, event)
      },
    }
  }

  /** The metrics now. */
  get metrics(): RunnerMetrics {
    return this.state.getValue()
  }

  /** Counts one more of `counter`. */
  add(counter: RunnerCounter): void {
    this.update({ ...this.counts, [counter]: this.counts[counter] + 1 })
  }

  /** Completes `metrics$`. */
  complete(): void {
    this.state.complete()
  }

  private update(counts: RunnerCounts): void {
    this.counts = counts
    if (!this.isClosed()) this.state.next(metricsOf(counts))
  }
}
