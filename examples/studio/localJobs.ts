import type { Subscription } from 'rxjs'
import { ComfyValidationError } from '../../src/errors/ComfyValidationError.js'
import type { ProgressUpdateOptions } from '../../src/progress/ProgressUpdateOptions.js'
import { toProgressUpdate } from '../../src/progress/toProgressUpdate.js'
import { userSafeMessage } from '../../src/progress/userSafeMessage.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import { watchProgress$ } from '../../src/store/watchProgress.js'
import type { Generated, StudioJobs } from './StudioJobs.js'

/**
 * The studio's jobs in this process (one instance): a `ComfyUIJobRunner` that publishes their
 * progress to an `InMemoryProgressStore`, which the progress streams read.
 */
export function localJobs(
  podUrl: string,
  progressThrottleMs: number,
  progressUpdateOptions: ProgressUpdateOptions,
): StudioJobs {
  const store = new InMemoryProgressStore()
  const runner = new ComfyUIJobRunner({ pods: [podUrl], store, progressUpdateOptions })
  const jobs = new Set<Subscription>()
  return {
    generate: (workflow) =>
      new Promise<Generated>((resolve) => {
        let answered = false
        // The job lives as long as this subscription (or until the runner is closed).
        const job = runner.run$(workflow, { progressThrottleMs }).subscribe({
          next: (event) => {
            if (answered) return
            answered = true
            // Answered once the prompt is in the store, so that its stream starts at once.
            void store
              .save(toProgressUpdate(event)!)
              .then(() => resolve({ promptId: event.promptId }))
          },
          error: (error: unknown) => {
            jobs.delete(job)
            if (answered) return
            // Refused before it was queued (invalid workflow, pod unreachable).
            answered = true
            const status = error instanceof ComfyValidationError ? 400 : 502
            resolve({ status, error: userSafeMessage(error) })
          },
          complete: () => jobs.delete(job),
        })
        if (!job.closed) jobs.add(job)
      }),
    latest: (promptId) => store.latest(promptId),
    updates$: (promptId) => watchProgress$(store, promptId),
    close: async () => {
      runner.close()
      for (const job of jobs) job.unsubscribe()
      await store.close()
    },
  }
}
