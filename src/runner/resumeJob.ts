import { defer, finalize, throwError } from 'rxjs'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import type { InFlightJob } from '../store/ProgressStore.js'
import { runnerClosedError } from './runnerClosedError.js'
import type { RecoveredJob } from './RecoveredJob.js'
import type { RunnerParts } from './RunnerParts.js'

/**
 * Follows a job of the previous run on its pod, where it counts as in flight, publishing its
 * progress; forgets it in the journal once it has ended (not when the runner is closed first).
 */
export function resumeJob(
  parts: RunnerParts,
  job: InFlightJob,
  options: TrackPromptOptions,
): RecoveredJob {
  const { pool, journal, publish, watching } = parts
  const { promptId, podUrl } = job
  const slot = pool.slotOf(podUrl)
  const track$ = slot?.pod.track$?.bind(slot.pod)
  if (slot !== undefined && track$ !== undefined) pool.reserve(slot)
  const events$ = defer(() =>
    track$ === undefined
      ? throwError(
          () =>
            new ComfyConnectionError(
              `the pod of prompt ${promptId} is not one of the runner's any more`,
              podUrl,
              'pod_removed',
            ),
        )
      : track$(promptId, options),
  ).pipe(
    // With its promptId: a job that fails before its first event is still told to its watchers.
    publish(promptId),
    finalize(() => {
      if (slot !== undefined && track$ !== undefined) pool.release(slot)
      journal.forget(promptId)
    }),
  )
  const result = new Promise<ComfyUIJobResult>((resolve, reject) => {
    const subscription = events$.subscribe({
      next: (event) => {
        if (event.type === 'completed') resolve(event.result)
      },
      error: reject,
    })
    // After the end, a no-op; before it (the runner closed), the job's promise still settles.
    subscription.add(() => reject(runnerClosedError()))
    watching.add(subscription)
  })
  // Whoever ignores the recovered jobs gets no unhandled rejection.
  result.catch(() => {})
  return { promptId, podUrl, result }
}
