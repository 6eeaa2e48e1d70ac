import { asyncScheduler, type ObservableInput, type SchedulerLike } from 'rxjs'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { assertJobType } from '../analytics/assertJobType.js'
import { noopAnalyticsSink } from '../analytics/noopAnalyticsSink.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { JobProgress } from '../job/JobEvent.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import type { ProgressUpdateOptions } from '../progress/ProgressUpdateOptions.js'
import { assertProgressStore } from '../store/assertProgressStore.js'
import type { ProgressStore } from '../store/ProgressStore.js'
import { publishProgress } from '../store/publishProgress.js'
import type { RunnerPod } from './RunnerPod.js'

/** Options of `new ComfyUIJobRunner(options)`. */
export interface ComfyUIJobRunnerOptions {
  /**
   * The pods: URLs (the runner creates their `ComfyPod`s, and closes them) or pods of your own
   * (`ComfyPod`s, left open by `close()`).
   */
  readonly pods: readonly (string | RunnerPod)[]
  /**
   * Options of the pods created from URLs.
   * @default {}
   */
  readonly podOptions?: ComfyPodOptions
  /**
   * Jobs of this runner on one pod at a time (running or in its queue); more wait in the runner.
   * Two keep a pod busy between jobs without hoarding work another pod could take.
   * @default 2
   */
  readonly concurrencyPerPod?: number
  /**
   * Limit of a health check (`GET /system_stats`).
   * @default 5000
   */
  readonly healthCheckTimeoutMs?: number
  /**
   * Interval of the health checks of a pod in the rotation.
   * @default 30000
   */
  readonly healthCheckIntervalMs?: number
  /**
   * How long a pod out of the rotation (failed health check, socket lost for good) waits before
   * it is checked again.
   * @default 10000
   */
  readonly podRetryMs?: number
  /**
   * Where the analytics events of the pods and jobs go.
   * @default noopAnalyticsSink
   */
  readonly analytics?: AnalyticsSink
  /**
   * `jobType` of the progress analytics of jobs that do not give their own.
   * @default 'image_generation'
   */
  readonly jobType?: JobType
  /**
   * Scheduler of the runner's timers (health checks, retries, the wait for a pod).
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
  /**
   * Where the jobs' progress is published (`publishProgress`), for `watchProgress$` on any
   * instance sharing it.
   * @default none
   */
  readonly store?: ProgressStore
  /**
   * The clientIds of the pods created from URLs, by URL without credentials (as `pod.url` shows
   * it).
   * @default a random UUID per pod (or `podOptions.clientId`)
   */
  readonly clientIds?: Readonly<Record<string, string>>
  /**
   * Options of the updates published to the `store` (`imageUrl`, `failureMessage`).
   * @default {}
   */
  readonly progressUpdateOptions?: ProgressUpdateOptions
}

/** Where a job is about to be sent. */
export interface PromptTarget {
  readonly promptId: string
  /** The pod's URL, without credentials (`pod.url`). */
  readonly podUrl: string
  /** The clientId the prompt is queued under: its socket messages go to it. */
  readonly clientId: string
}

/** Options of `runner.run$(workflow, options)`: the job's, its analytics `jobType`, a hook. */
export interface RunJobOptions extends ExecuteWorkflowOptions {
  /**
   * `jobType` of the job's progress analytics.
   * @default the runner's `jobType`
   */
  readonly jobType?: JobType
  /**
   * Called just before each `POST /prompt` of the job with where it goes, and waited for: the
   * promise it returns to resolve, or the Observable to complete (its values are ignored). A job
   * queue records the target there, so that whoever takes the job over after a crash finds the
   * prompt on its pod. When it throws, rejects or errors, the job fails with that error and
   * nothing is sent.
   * @default none
   */
  readonly beforeSubmit?: (target: PromptTarget) => ObservableInput<unknown> | void
}

/** Options of `runner.submit(workflow, options)`. */
export interface SubmitJobOptions extends RunJobOptions {
  /**
   * Called with each progress, 0–100; what it throws is ignored.
   * @default none
   */
  readonly onProgress?: (progress: number, event: JobProgress) => void
}

/** @internal The runner's options with every default applied. */
export interface ResolvedRunnerOptions {
  readonly pods: readonly (string | RunnerPod)[]
  readonly podOptions: ComfyPodOptions
  readonly concurrencyPerPod: number
  readonly healthCheckTimeoutMs: number
  readonly healthCheckIntervalMs: number
  readonly podRetryMs: number
  readonly analytics: AnalyticsSink
  readonly jobType: JobType
  readonly scheduler: SchedulerLike
  readonly store: ProgressStore | undefined
  readonly clientIds: Readonly<Record<string, string>>
  readonly progressUpdateOptions: ProgressUpdateOptions
}

/**
 * @internal Applies the defaults and validates every option (pod URLs are checked by the pods
 * themselves); throws a `TypeError` naming the option.
 */
export function resolveRunnerOptions(options: ComfyUIJobRunnerOptions): ResolvedRunnerOptions {
  const {
    pods,
    podOptions = {},
    concurrencyPerPod = 2,
    healthCheckTimeoutMs = 5000,
    healthCheckIntervalMs = 30_000,
    podRetryMs = 10_000,
    analytics = noopAnalyticsSink,
    jobType = 'image_generation',
    scheduler = asyncScheduler,
    store,
    clientIds = {},
    progressUpdateOptions = {},
  } = options ?? ({} as ComfyUIJobRunnerOptions)
  if (!Array.isArray(pods) || pods.length === 0)
    invalid('pods', pods, 'a non-empty array of URLs or ComfyPods')
  for (const pod of pods) {
    if (
      typeof pod !== 'string' &&
      (typeof pod !== 'object' || pod === null || typeof pod.executeWorkflow$ !== 'function')
    )
      invalid('pods', pod, 'URLs or ComfyPods')
  }
  if (!Number.isInteger(concurrencyPerPod) || concurrencyPerPod < 1)
    invalid('concurrencyPerPod', concurrencyPerPod, 'an integer >= 1')
  positive('healthCheckTimeoutMs', healthCheckTimeoutMs)
  positive('healthCheckIntervalMs', healthCheckIntervalMs)
  positive('podRetryMs', podRetryMs)
  assertJobType(jobType)
  if (
    typeof analytics !== 'object' ||
    analytics === null ||
    typeof analytics.capture !== 'function'
  )
    invalid('analytics', analytics, 'an AnalyticsSink')
  if (store !== undefined) assertProgressStore(store)
  if (typeof clientIds !== 'object' || clientIds === null)
    invalid('clientIds', clientIds, 'an object of clientIds by pod URL')
  // Builds the operator only to have publishProgress check progressUpdateOptions now.
  if (store !== undefined) publishProgress(store, progressUpdateOptions)
  return {
    pods,
    podOptions,
    concurrencyPerPod,
    healthCheckTimeoutMs,
    healthCheckIntervalMs,
    podRetryMs,
    analytics,
    jobType,
    scheduler,
    store,
    clientIds,
    progressUpdateOptions,
  }
}
