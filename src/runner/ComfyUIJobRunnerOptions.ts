import { asyncScheduler, type SchedulerLike } from 'rxjs'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { assertJobType } from '../analytics/assertJobType.js'
import { noopAnalyticsSink } from '../analytics/noopAnalyticsSink.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import { resolveJobSettings } from '../job/JobSettings.js'
import type { JobProgress } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
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
   * instance; with `instanceId`, also where the runner keeps what `recover` needs after a
   * restart: its pods' clientIds and its jobs in flight.
   * @default none
   */
  readonly store?: ProgressStore
  /**
   * This instance's name in the `store`, the same across its restarts (a StatefulSet pod's name,
   * a host and port): the key of its clientIds and jobs in flight. Two instances running at the
   * same time must never share one.
   * @default none (nothing is kept for a restart)
   */
  readonly instanceId?: string
  /**
   * The clientIds of the pods created from URLs, by URL without credentials (as `pod.url` shows
   * it). `recover` gives those of the previous run.
   * @default a random UUID per pod (or `podOptions.clientId`)
   */
  readonly clientIds?: Readonly<Record<string, string>>
  /**
   * Options of the updates published to the `store` (`imageUrl`, `failureMessage`).
   * @default {}
   */
  readonly progressUpdateOptions?: ProgressUpdateOptions
}

/** Options of `ComfyUIJobRunner.recover(options)`: the runner's, with a store and an instanceId. */
export interface RecoverRunnerOptions extends ComfyUIJobRunnerOptions {
  readonly store: ProgressStore
  readonly instanceId: string
  /**
   * Options of the `track$` that follows each job of the previous run (its timeout counts from
   * the recovery).
   * @default {}
   */
  readonly trackOptions?: TrackPromptOptions
}

/** Options of `runner.run$(workflow, options)`: the job's, and its analytics `jobType`. */
export interface RunJobOptions extends Omit<ExecuteWorkflowOptions, 'promptId'> {
  /**
   * `jobType` of the job's progress analytics.
   * @default the runner's `jobType`
   */
  readonly jobType?: JobType
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
  readonly instanceId: string | undefined
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
    instanceId,
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
  if (store !== undefined || instanceId !== undefined)
    assertProgressStore(store, instanceId === undefined ? 'store' : 'store (for instanceId)')
  if (instanceId !== undefined) assertInstanceId(instanceId)
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
    instanceId,
    clientIds,
    progressUpdateOptions,
  }
}

/**
 * @internal Applies the defaults of what `recover` adds to the runner's options and validates
 * it; the runner's own options are resolved by the runner. Throws a `TypeError` naming the option.
 */
export function resolveRecoverOptions(options: RecoverRunnerOptions): {
  readonly runnerOptions: Omit<RecoverRunnerOptions, 'trackOptions'>
  readonly trackOptions: TrackPromptOptions
} {
  const { trackOptions = {}, ...runnerOptions } = options ?? ({} as RecoverRunnerOptions)
  const { store, instanceId } = runnerOptions
  assertProgressStore(store)
  assertInstanceId(instanceId)
  if (typeof trackOptions !== 'object' || trackOptions === null)
    invalid('trackOptions', trackOptions, 'an object')
  resolveJobSettings(trackOptions)
  return { runnerOptions, trackOptions }
}

function assertInstanceId(instanceId: unknown): asserts instanceId is string {
  if (typeof instanceId !== 'string' || instanceId === '')
    invalid('instanceId', instanceId, 'a non-empty string')
}
