import { catchError, filter, map, of, scan, takeWhile, type OperatorFunction } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import type { ProgressStatus, ProgressUpdate } from './ProgressUpdate.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
  type ResolvedProgressUpdateOptions,
} from './ProgressUpdateOptions.js'
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

type Step = { readonly update: ProgressUpdate | undefined } | { readonly error: unknown }

interface State {
  readonly latest: ProgressUpdate | undefined
  readonly changed: boolean
}

/**
 * Turns a job's events (or ready-made `ProgressUpdate`s, e.g. from a store) into the updates a
 * browser should see: only changes, never backwards (status and progress only go up, so a stale
 * or replayed update is dropped), an error as a final `failed` update with a user-safe message,
 * and completion right after the final update. Never errors.
 *
 * @example
 * ```ts
 * import { ComfyPod, toProgressUpdates } from 'comfyui-rx'
 *
 * pod.executeWorkflow$(workflow)
 *   .pipe(toProgressUpdates())
 *   .subscribe((update) => console.log(update.status, update.progress))
 * // queued 0, processing 0, processing 45, …, completed 100
 * ```
 * @param options - see `ProgressUpdateOptions`
 * @returns an operator from `JobEvent | ProgressUpdate` to `ProgressUpdate`
 * @throws TypeError for an invalid option
 */
export function toProgressUpdates(
  options: ProgressUpdateOptions = {},
): OperatorFunction<JobEvent | ProgressUpdate, ProgressUpdate> {
  return progressUpdates(resolveProgressUpdateOptions(options))
}

/** @internal `toProgressUpdates` with resolved options. */
export function progressUpdates(
  resolved: ResolvedProgressUpdateOptions,
): OperatorFunction<JobEvent | ProgressUpdate, ProgressUpdate> {
  return (source) =>
    source.pipe(
      map((input): Step => ({ update: 'type' in input ? mapJobEvent(input, resolved) : input })),
      catchError((error: unknown) => of<Step>({ error })),
      scan(
        (state: State, step: Step): State => {
          const next =
            'error' in step ? failedUpdate(step.error, state.latest, resolved) : step.update
          if (next === undefined) return { latest: state.latest, changed: false }
          const latest = advance(state.latest, next)
          return { latest, changed: latest !== state.latest }
        },
        { latest: undefined, changed: false },
      ),
      filter((state) => state.changed),
      map((state) => state.latest!),
      takeWhile((update) => !isFinal(update), true),
    )
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
    next.queuePosition === previous.queuePosition
  if (unchanged) return previous
  return progress === next.progress ? next : { ...next, progress }
}
