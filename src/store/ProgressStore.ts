import type { Observable } from 'rxjs'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'

/**
 * Something a store could not do. It never errors a job or a watcher: updates are kept (the latest
 * of each prompt, bounded) or dropped, and the store reconnects by itself.
 *
 * - `write_failed`: a write failed, or could not be sent (not connected); `kept` when it waits
 *   for the reconnection (only the latest write of each key waits: the older ones are dropped),
 *   otherwise it was dropped (Redis refused it).
 * - `update_dropped`: too many writes waiting for the reconnection; the oldest was dropped.
 * - `read_failed`: a read for a watcher failed; it is read again on reconnection.
 * - `connection_error`: the connection failed or was lost (it reconnects by itself).
 * - `invalid_data`: a stored value is not what this library wrote; it is ignored.
 */
export type ProgressStoreDiagnostic =
  | {
      readonly type: 'write_failed'
      /** What the write was about. */
      readonly key: string
      readonly promptId?: string
      readonly kept: boolean
      readonly message: string
    }
  | {
      readonly type: 'update_dropped'
      readonly key: string
      readonly promptId?: string
    }
  | {
      readonly type: 'read_failed'
      readonly promptId: string
      readonly message: string
    }
  | {
      readonly type: 'connection_error'
      /** `commands`, or `subscriber` (the connection of the live updates). */
      readonly connection: 'commands' | 'subscriber'
      readonly message: string
    }
  | {
      readonly type: 'invalid_data'
      readonly key: string
      readonly message: string
    }

/**
 * Where backend instances share progress: the latest `ProgressUpdate` of each prompt and its live
 * updates, so that any instance can serve the progress stream of a job another one runs. Implemented in memory (`InMemoryProgressStore`, the default: one instance) and in Redis
 * (`RedisProgressStore` from `comfyui-rx/store`).
 *
 * Writes never throw and never reject: a write the store cannot make is reported on
 * `diagnostics$` and dropped (or kept, bounded, until the store is back). Writes of one prompt
 * are applied in order, and a prompt's saved state never goes back (see `save`).
 *
 * @example
 * ```ts
 * import { InMemoryProgressStore, publishProgress, watchProgress$ } from 'comfyui-rx'
 *
 * const store = new InMemoryProgressStore()
 * pod.executeWorkflow$(workflow).pipe(publishProgress(store)).subscribe()
 * watchProgress$(store, promptId).subscribe((update) => console.log(update.status, update.progress))
 * // processing 45, processing 60, …, completed 100
 * ```
 */
export interface ProgressStore {
  /** What went wrong, as it happens; never errors; completes when the store is closed. */
  readonly diagnostics$: Observable<ProgressStoreDiagnostic>
  /**
   * Saves the latest update of its prompt and publishes it to the prompt's watchers, unless the
   * saved one is newer (a further status, or more progress of the same status) or final: a
   * prompt's saved state never goes back, whichever instance writes it.
   *
   * @returns a promise that resolves once the update is saved, superseded, or given up for now
   *   (see `diagnostics$`); it never rejects
   */
  save(update: ProgressUpdate): Promise<void>
  /**
   * The latest update saved for a prompt.
   *
   * @returns the update, or undefined when the prompt is unknown or expired; rejects with
   *   `ComfyStoreError` when the store cannot be read
   */
  latest(promptId: string): Promise<ProgressUpdate | undefined>
  /**
   * The prompt's latest update, if any, then every update saved after it, live. It may repeat an
   * update or give an older one around its start and after a reconnection: `watchProgress$`
   * orders them. Never errors (a lost connection is a diagnostic; it catches up once back);
   * completes only when the store is closed.
   */
  watch$(promptId: string): Observable<ProgressUpdate>
  /**
   * Completes the watchers and `diagnostics$`, and releases the store's connections once the
   * writes under way are done. Idempotent.
   */
  close(): Promise<void>
}
