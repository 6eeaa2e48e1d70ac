import {
  defer,
  filter,
  identity,
  lastValueFrom,
  map,
  type MonoTypeOperatorFunction,
  type Observable,
  Subscription,
  tap,
} from 'rxjs'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import { assertJobType } from '../analytics/assertJobType.js'
import { reportPod } from '../analytics/reportPod.js'
import { invalid } from '../internal/optionChecks.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { JobEvent } from '../job/JobEvent.js'
import { resolveJobSettings } from '../job/JobSettings.js'
import type { Workflow } from '../job/Workflow.js'
import { publishProgress } from '../store/publishProgress.js'
import {
  type ComfyUIJobRunnerOptions,
  resolveRunnerOptions,
  type RunJobOptions,
  type SubmitJobOptions,
} from './ComfyUIJobRunnerOptions.js'
import { dispatchJob$ } from './dispatchJob.js'
import { PodPool } from './PodPool.js'
import type { RunnerMetrics } from './RunnerMetrics.js'
import { RunnerMetricsCounter } from './RunnerMetricsCounter.js'
import type { RunnerParts } from './RunnerParts.js'
import type { RunnerPodStatus } from './RunnerPod.js'

/**
 * Many pods, one queue of jobs: each job goes to the healthy pod with the least work (its
 * `queue_remaining` plus this runner's jobs there), at most `concurrencyPerPod` at a time per
 * pod. A pod that fails its health check or loses its socket for good leaves the rotation and is
 * checked again later. A job whose pod refused it before taking it is sent once to another pod;
 * a job a pod took is never sent elsewhere (no duplicate generation) — it falls back to REST
 * polling with its pod, or fails.
 *
 * The pods are watched (health check, socket, `status`) from construction until `close()`: the
 * runner keeps one socket open per pod.
 *
 * @example
 * ```ts
 * import { ComfyUIJobRunner } from 'comfyui-rx'
 *
 * const runner = new ComfyUIJobRunner({
 *   pods: ['http://gpu-1:8188', 'http://gpu-2:8188'],
 *   concurrencyPerPod: 2,
 * })
 * const result = await runner.submit(workflow, {
 *   onProgress: (progress) => console.log(`${progress}%`), // 0 … 100
 * })
 * console.log(result.images[0]?.url)
 * runner.metrics$.subscribe((m) => console.log(m.connectionSuccessRate, m.fallbackRate))
 * runner.close()
 * ```
 */
export class ComfyUIJobRunner {
  /** The funnel's metrics, current one first, then on every change. */
  readonly metrics$: Observable<RunnerMetrics>
  /** The pods' states, current ones first, then on every change. */
  readonly pods$: Observable<readonly RunnerPodStatus[]>

  private readonly parts: RunnerParts
  private readonly jobType: JobType
  private isClosed = false

  /**
   * @param options - see `ComfyUIJobRunnerOptions`
   * @throws TypeError for an invalid option or pod URL
   */
  constructor(options: ComfyUIJobRunnerOptions) {
    const resolved = resolveRunnerOptions(options)
    const { analytics, jobType, scheduler, store, progressUpdateOptions } = resolved
    const isClosed = (): boolean => this.isClosed
    const counter = new RunnerMetricsCounter(analytics, isClosed)
    const pool = new PodPool(resolved, isClosed)
    const publish: MonoTypeOperatorFunction<JobEvent> =
      store === undefined ? identity : publishProgress(store, progressUpdateOptions)
    const watching = new Subscription()
    this.parts = { pool, counter, scheduler, publish, watching }
    this.jobType = jobType
    this.metrics$ = counter.metrics$
    this.pods$ = pool.pods$
    // Watched from now on (as a connection pool connects), so the first job finds pods ready.
    for (const slot of pool.slots) {
      watching.add(reportPod(slot.pod, counter.sink, { scheduler }))
      watching.add(pool.watch$(slot).subscribe())
    }
  }

  /** The funnel's metrics now. */
  get metrics(): RunnerMetrics {
    return this.parts.counter.metrics
  }

  /** The pods' states now. */
  get pods(): readonly RunnerPodStatus[] {
    return this.parts.pool.pods
  }

  /**
   * Runs a workflow on the least-loaded healthy pod: the job's events, as `pod.executeWorkflow$`
   * gives them. Cold: the job waits for a pod only once subscribed; unsubscribing gives up its
   * place or its pod. `timeoutMs` counts the wait for a pod too.
   *
   * @example
   * ```ts
   * runner.run$(workflow, { jobType: 'face_swap' }).subscribe((event) => console.log(event.type))
   * // queued, started, progress, …, completed
   * ```
   * @param workflow - an API-format workflow
   * @param options - the job's options, and its `jobType`
   * @returns the job's events; `ComfyTimeoutError` when no pod took it within `timeoutMs`;
   *   `ComfyConnectionError` (`runner_closed`) when the runner is closed first
   * @throws TypeError for an invalid workflow or option
   */
  run$(workflow: Workflow, options: RunJobOptions = {}): Observable<JobEvent> {
    const { pool, counter, scheduler, publish } = this.parts
    const { jobType = this.jobType, beforeSubmit, ...jobOptions } = options
    assertJobType(jobType)
    if (beforeSubmit !== undefined && typeof beforeSubmit !== 'function')
      invalid('beforeSubmit', beforeSubmit, 'a function')
    // Building a job validates the workflow and options (it sends nothing until subscribed).
    pool.slots[0]?.pod.executeWorkflow$(workflow, jobOptions)
    // The job layer's default: the runner needs it too, for the wait for a pod counts.
    const { timeoutMs } = resolveJobSettings(jobOptions)
    return defer(() => {
      counter.add('jobs')
      const deadline = scheduler.now() + timeoutMs
      return dispatchJob$(this.parts, {
        workflow,
        options: jobOptions,
        jobType,
        timeoutMs,
        deadline,
        beforeSubmit,
      })
    }).pipe(
      tap((event) => {
        if (event.type === 'progress') counter.add('progressUpdates')
      }),
      publish,
    )
  }

  /**
   * Runs a workflow to its end, as a promise (see `run$`).
   *
   * @example
   * ```ts
   * const result = await runner.submit(workflow, { onProgress: (p) => bar.update(p) })
   * console.log(result.method) // websocket
   * ```
   * @returns the result; rejects with the job's `ComfyError`
   */
  submit(workflow: Workflow, options: SubmitJobOptions = {}): Promise<ComfyUIJobResult> {
    const { onProgress, ...runOptions } = options
    if (onProgress !== undefined && typeof onProgress !== 'function')
      invalid('onProgress', onProgress, 'a function')
    return lastValueFrom(
      this.run$(workflow, runOptions).pipe(
        tap((event) => {
          if (event.type !== 'progress' || onProgress === undefined) return
          try {
            onProgress(event.progress, event)
          } catch {
            // A progress callback's failure is not the job's.
          }
        }),
        filter((event) => event.type === 'completed'),
        map((event) => event.result),
      ),
    )
  }

  /**
   * Stops watching the pods, closes the pods it created (their jobs fail with
   * `ComfyConnectionError` `pod_closed`), and fails the jobs still waiting for a pod. Pods given
   * as instances stay open. Idempotent.
   */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.parts.watching.unsubscribe()
    this.parts.pool.close()
    this.parts.counter.complete()
  }
}
