import { defer, type MonoTypeOperatorFunction, tap } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { invalid } from '../internal/optionChecks.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
} from '../progress/ProgressUpdateOptions.js'
import { failedUpdate, mapJobEvent } from '../progress/toProgressUpdate.js'
import { assertProgressStore } from './assertProgressStore.js'
import type { ProgressStore } from './ProgressStore.js'

/** Options of `publishProgress(store, options)`. */
export interface PublishProgressOptions extends ProgressUpdateOptions {
  /**
   * Whether an error of the job ends its prompt for the watchers, saved as a `failed` update.
   * Return false for an error after which the job goes on elsewhere (a queue retries it, another
   * worker takes it over): the watchers then keep waiting.
   * @default () => true
   */
  readonly isFinal?: (error: unknown) => boolean
}

/**
 * Saves a job's progress in a store as it goes, so that any instance sharing the store can serve
 * it (`watchProgress$`): each event that changes what a browser shows becomes the prompt's latest
 * `ProgressUpdate` (see `toProgressUpdate`), and an error a final `failed` update with a user-safe
 * message. The events pass through unchanged, errors included; the store never slows the job
 * down nor fails it (it drops what it cannot save, see `ProgressStore.diagnostics$`).
 *
 * @example
 * ```ts
 * import { InMemoryProgressStore, publishProgress } from 'comfyui-rx'
 *
 * const store = new InMemoryProgressStore()
 * pod
 *   .executeWorkflow$(workflow)
 *   .pipe(publishProgress(store, { imageUrl: (_image, i, id) => `/images/${id}/${i}` }))
 *   .subscribe((event) => console.log(event.type)) // queued, started, progress, …, completed
 * // meanwhile, on any instance: watchProgress$(store, promptId)
 * ```
 * @param store - where the updates go
 * @param options - see `PublishProgressOptions`
 * @returns an operator that passes a job's events through
 * @throws TypeError for an invalid store or option
 */
export function publishProgress(
  store: ProgressStore,
  options: PublishProgressOptions = {},
): MonoTypeOperatorFunction<JobEvent> {
  assertProgressStore(store)
  const { isFinal = () => true, ...updateOptions } = options
  if (typeof isFinal !== 'function') invalid('isFinal', isFinal, 'a function')
  const resolved = resolveProgressUpdateOptions(updateOptions)
  return (source) =>
    defer(() => {
      let latest: ProgressUpdate | undefined
      return source.pipe(
        tap({
          next: (event) => {
            const update = mapJobEvent(event, resolved)
            if (update === undefined) return
            latest = update
            saveSafely(store, update)
          },
          error: (error: unknown) => {
            if (!isFinal(error)) return
            const update = failedUpdate(error, latest, resolved)
            // A job refused before it had a prompt id has no watchers to tell.
            if (update.promptId !== '') saveSafely(store, update)
          },
        }),
      )
    })
}

/** A store's failure is not the job's, even from a store that breaks its promise never to throw. */
function saveSafely(store: ProgressStore, update: ProgressUpdate): void {
  try {
    store.save(update).catch(() => {})
  } catch {
    // See above.
  }
}
