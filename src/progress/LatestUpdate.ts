import type { JobEvent } from '../job/JobEvent.js'
import type { ProgressStatus, ProgressUpdate } from './ProgressUpdate.js'
import type { ResolvedProgressUpdateOptions } from './ProgressUpdateOptions.js'
import { failedUpdate, mapJobEvent } from './toProgressUpdate.js'

const RANK: Readonly<Record<ProgressStatus, number>> = {
  queued: 0,
  processing: 1,
  completed: 2,
  failed: 2,
}

/** @internal Whether the update ends its prompt's stream. */
export function isFinal(update: ProgressUpdate): boolean {
  return update.status === 'completed' || update.status === 'failed'
}

/**
 * @internal The update a browser saw last, advanced by each input: only changes, never backwards
 * (status and progress only go up, so a stale or replayed update is dropped), an error as a final
 * `failed` update with a user-safe message. One object per stream, not an operator chain.
 */
export class LatestUpdate {
  /** The update last answered. */
  latest: ProgressUpdate | undefined

  constructor(private readonly options: ResolvedProgressUpdateOptions) {}

  /** The update `input` makes, or undefined when it changes nothing shown. */
  next(input: JobEvent | ProgressUpdate): ProgressUpdate | undefined {
    const next = 'type' in input ? mapJobEvent(input, this.options) : input
    return next === undefined ? undefined : this.advance(next)
  }

  /** The final `failed` update of a stream that errored, unless it had already ended. */
  error(error: unknown): ProgressUpdate | undefined {
    return this.advance(failedUpdate(error, this.latest, this.options))
  }

  private advance(next: ProgressUpdate): ProgressUpdate | undefined {
    const latest = advance(this.latest, next)
    if (latest === this.latest) return undefined
    this.latest = latest
    return latest
  }
}

/** The state after `next`: `previous` itself when `next` is stale or changes nothing. */
function advance(previous: ProgressUpdate | undefined, next: ProgressUpdate): ProgressUpdate {
  const clamped = Math.min(100, Math.max(0, Number.isFinite(next.progress) ? next.progress : 0))
  if (previous === undefined)
    return clamped === next.progress ? next : { ...next, progress: clamped }
  if (isFinal(previous) || RANK[next.status] < RANK[previous.status]) return previous
  // A lower progress of the same status is an older update (its time left too).
  if (next.status === previous.status && clamped < previous.progress) return previous
  const progress = next.status === 'completed' ? 100 : Math.max(previous.progress, clamped)
  const unchanged =
    next.status === previous.status &&
    progress === previous.progress &&
    next.estimatedTimeRemaining === previous.estimatedTimeRemaining &&
    next.activity === previous.activity &&
    next.queuePosition === previous.queuePosition
  if (unchanged) return previous
  return progress === next.progress ? next : { ...next, progress }
}
