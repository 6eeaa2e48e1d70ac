import { catchError, defer, filter, map, of, takeWhile, type OperatorFunction } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { isFinal, LatestUpdate } from './LatestUpdate.js'
import type { ProgressUpdate } from './ProgressUpdate.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
  type ResolvedProgressUpdateOptions,
} from './ProgressUpdateOptions.js'

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
    defer(() => {
      const latest = new LatestUpdate(resolved)
      return source.pipe(
        map((input) => latest.next(input)),
        catchError((error: unknown) => of(latest.error(error))),
        filter((update): update is ProgressUpdate => update !== undefined),
        takeWhile((update) => !isFinal(update), true),
      )
    })
}
