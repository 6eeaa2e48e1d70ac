import { defer, filter, type Observable } from 'rxjs'
import { invalid } from '../internal/optionChecks.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { toProgressUpdates } from '../progress/toProgressUpdates.js'
import { assertProgressStore } from './assertProgressStore.js'
import type { ProgressStore } from './ProgressStore.js'

/**
 * A prompt's progress from a store, whichever instance runs it: its latest state at once (when
 * the store has one), then each change, never backwards, completing right after the final update
 * (`completed`, or `failed`). Made for `toServerSentEvents`, so that the progress stream of any
 * prompt can be served by any instance. A lost store connection does not end it: it catches up
 * once the store is back. It completes without a final update only when the store is closed.
 *
 * Waits for an unknown prompt (its first update may still be on its way): check
 * `store.latest(promptId)` first to answer 404 for a prompt that does not exist.
 *
 * @example
 * ```ts
 * import { toServerSentEvents, watchProgress$ } from 'comfyui-rx'
 * import { RedisProgressStore } from 'comfyui-rx/store'
 *
 * const store = new RedisProgressStore(process.env.REDIS_URL!)
 * createServer(async (req, res) => {
 *   const promptId = new URL(req.url!, 'http://x').searchParams.get('promptId')!
 *   if ((await store.latest(promptId)) === undefined) return res.writeHead(404).end()
 *   toServerSentEvents(watchProgress$(store, promptId), res)
 * }).listen(3000)
 * // event: processing · data: {"promptId":"…","status":"processing","progress":45}
 * ```
 * @param store - the store the prompt's runner publishes to (`publishProgress`)
 * @param promptId - the prompt
 * @returns the prompt's updates, ending with its final one
 * @throws TypeError for an invalid store or an empty promptId
 */
export function watchProgress$(store: ProgressStore, promptId: string): Observable<ProgressUpdate> {
  assertProgressStore(store)
  if (typeof promptId !== 'string' || promptId === '')
    invalid('promptId', promptId, 'a non-empty string')
  return defer(() => store.watch$(promptId)).pipe(
    filter((update) => update.promptId === promptId),
    // Drops repeated and stale updates (a store may replay around its start and reconnections)
    // and completes after the final one.
    toProgressUpdates({ promptId }),
  )
}
