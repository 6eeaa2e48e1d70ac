import { randomUUID } from 'node:crypto'
import {
  asyncScheduler,
  BehaviorSubject,
  catchError,
  defer,
  distinctUntilChanged,
  endWith,
  exhaustMap,
  filter,
  finalize,
  identity,
  ignoreElements,
  lastValueFrom,
  map,
  merge,
  type MonoTypeOperatorFunction,
  Observable,
  retry,
  type ObservableInput,
  type SchedulerLike,
  Subject,
  Subscription,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { assertJobType } from '../analytics/assertJobType.js'
import { captureSafely } from '../analytics/captureSafely.js'
import { noopAnalyticsSink } from '../analytics/noopAnalyticsSink.js'
import { reportJob } from '../analytics/reportJob.js'
import { reportPod } from '../analytics/reportPod.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { JobEvent, JobProgress } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import { assertTrackOptions } from '../job/trackPrompt.js'
import type { Workflow } from '../job/Workflow.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import { redactUrl } from '../internal/redactUrl.js'
import { StatusMessage } from '../protocol/ComfyMessage.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { ProgressUpdateOptions } from '../progress/ProgressUpdateOptions.js'
import { assertProgressStore } from '../store/assertProgressStore.js'
import type { InFlightJob, ProgressStore } from '../store/ProgressStore.js'
import { publishProgress } from '../store/publishProgress.js'
import { checkPodHealth } from './checkPodHealth.js'
import { isUnsentPrompt } from './isUnsentPrompt.js'
import {
  countEvent,
  metricsOf,
  NO_COUNTS,
  type RunnerCounts,
  type RunnerMetrics,
} from './RunnerMetrics.js'

/**
 * What the runner uses of a pod: a `ComfyPod`, or anything shaped like one (`getSystemStats` may
 * return any `ObservableInput`, so that tests run the runner in virtual time).
 */
export interface RunnerPod {
  /** The pod's URL, without credentials. */
  readonly url: string
  readonly clientId: string
  readonly messages$: Observable<PodMessage>
  readonly connection$: Observable<ConnectionState>
  executeWorkflow$(workflow: Workflow, options?: ExecuteWorkflowOptions): Observable<JobEvent>
  getSystemStats(): ObservableInput<unknown>
  /** Follows a prompt queued earlier (`ComfyPod.track$`); needed by `recover` only. */
  track$?(promptId: string, options?: TrackPromptOptions): Observable<JobEvent>
}

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

/** A job of the previous run of the instance, which `recover` follows again. */
export interface RecoveredJob {
  readonly promptId: string
  /** Its pod's URL, without credentials. */
  readonly podUrl: string
  /**
   * Its result; rejects with the job's `ComfyError`, with `ComfyConnectionError` `pod_removed`
   * when its pod is not one of the runner's any more, or `runner_closed` when the runner is
   * closed first (the job is then kept for the next recovery).
   */
  readonly result: Promise<ComfyUIJobResult>
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

/** A pod as the runner sees it. */
export interface RunnerPodStatus {
  /** The pod's URL, without credentials. */
  readonly url: string
  readonly clientId: string
  /** In the rotation: its health check passed and its socket is open. */
  readonly healthy: boolean
  /** `queue_remaining` of its last `status` message (pending + running, anyone's). */
  readonly queueRemaining: number
  /** Jobs of this runner sent there and not ended. */
  readonly inFlight: number
}

interface Slot {
  readonly pod: RunnerPod
  /** Closes the pod, when the runner created it. */
  readonly close: (() => void) | undefined
  /** Asks for a health check now (the pod refused a prompt). */
  readonly recheck$: Subject<void>
  healthy: boolean
  queueRemaining: number
  inFlight: number
}

interface Ticket {
  /** The pod that refused the job before: never again for it. */
  readonly excluded: Slot | undefined
  assign(slot: Slot): void
  fail(error: unknown): void
}

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

  private readonly slots: readonly Slot[]
  private readonly concurrencyPerPod: number
  private readonly healthCheckTimeoutMs: number
  private readonly healthCheckIntervalMs: number
  private readonly podRetryMs: number
  private readonly jobType: JobType
  private readonly scheduler: SchedulerLike
  private readonly store: ProgressStore | undefined
  private readonly instanceId: string | undefined
  /** Taps a job's progress into the store, if any (`promptId`: of a job known before its events). */
  private readonly publish: (promptId?: string) => MonoTypeOperatorFunction<JobEvent>
  private readonly userSink: AnalyticsSink
  /** The user's sink, with the runner's metrics counted on the way. */
  private readonly sink: AnalyticsSink
  private readonly waiting: Ticket[] = []
  private readonly watching = new Subscription()
  // BehaviorSubjects: the runner's state changes imperatively (dispatch, counters) and both
  // streams must replay the current value to late subscribers, as the snapshots do.
  private readonly metricsState = new BehaviorSubject<RunnerMetrics>(metricsOf(NO_COUNTS))
  private readonly podsState: BehaviorSubject<readonly RunnerPodStatus[]>
  private recoveredJobs: readonly RecoveredJob[] = []
  private counts: RunnerCounts = NO_COUNTS
  private isClosed = false
  private dispatching = false
  private dispatchAgain = false

  /**
   * @param options - see `ComfyUIJobRunnerOptions`
   * @throws TypeError for an invalid option or pod URL
   */
  constructor(options: ComfyUIJobRunnerOptions) {
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
    this.store = store
    this.instanceId = instanceId
    // Checks progressUpdateOptions now, as every other option.
    if (store !== undefined) publishProgress(store, progressUpdateOptions)
    this.publish = (promptId) =>
      store === undefined
        ? identity
        : publishProgress(store, {
            ...progressUpdateOptions,
            ...(promptId === undefined ? {} : { promptId }),
            // Closing is not the end of the jobs: the next run of this instance recovers them.
            isFinal: () => !this.isClosed,
          })
    this.concurrencyPerPod = concurrencyPerPod
    this.healthCheckTimeoutMs = healthCheckTimeoutMs
    this.healthCheckIntervalMs = healthCheckIntervalMs
    this.podRetryMs = podRetryMs
    this.jobType = jobType
    this.scheduler = scheduler
    this.userSink = analytics
    this.sink = {
      capture: (event) => {
        this.count(countEvent(this.counts, event))
        captureSafely(this.userSink, event)
      },
    }
    // Validates jobType now, as every other option.
    reportJob(analytics, {
      pod: { connection$: this.metricsState.pipe(ignoreElements()) },
      jobType,
    })
    this.slots = pods.map((given) => {
      const clientId = typeof given === 'string' ? clientIds[redactUrl(given)] : undefined
      const pod =
        typeof given === 'string'
          ? new ComfyPod(given, clientId === undefined ? podOptions : { ...podOptions, clientId })
          : undefined
      return {
        pod: pod ?? (given as RunnerPod),
        close: pod === undefined ? undefined : () => pod.close(),
        recheck$: new Subject<void>(),
        healthy: false,
        queueRemaining: 0,
        inFlight: 0,
      }
    })
    if (store !== undefined && instanceId !== undefined) {
      const saved = Object.fromEntries(this.slots.map(({ pod }) => [pod.url, pod.clientId]))
      quietly(() => store.saveClientIds(instanceId, saved))
    }
    this.podsState = new BehaviorSubject(this.podStatuses())
    this.metrics$ = this.metricsState.asObservable()
    this.pods$ = this.podsState.asObservable()
    // Watched from now on (as a connection pool connects), so the first job finds pods ready.
    for (const slot of this.slots) {
      this.watching.add(reportPod(slot.pod, this.sink, { scheduler: this.scheduler }))
      this.watching.add(this.watch$(slot).subscribe())
    }
  }

  /**
   * Starts the runner of an instance that may have run before, with a store shared by the
   * instances: its pods get the clientIds the instance used last time (saved in the store), and
   * the jobs it had in flight — killed or restarted mid-job — are followed again (`pod.track$`)
   * and their progress published to the store once more, so that they complete for whoever
   * watches them (`watchProgress$` on any instance). A first start finds nothing to recover.
   *
   * @example
   * ```ts
   * import { ComfyUIJobRunner } from 'comfyui-rx'
   * import { RedisProgressStore } from 'comfyui-rx/store'
   *
   * const store = new RedisProgressStore(process.env.REDIS_URL!)
   * const runner = await ComfyUIJobRunner.recover({
   *   pods: ['http://gpu-1:8188'],
   *   store,
   *   instanceId: process.env.HOSTNAME!, // the same after a restart
   * })
   * for (const job of runner.recovered) {
   *   job.result.then((result) => console.log(job.promptId, result.images.length)) // '…' 1
   * }
   * ```
   * @param options - the runner's options, with `store` and `instanceId`
   * @returns the runner, once the store was read; rejects with `ComfyStoreError` when it cannot
   *   be read, with a `TypeError` for an invalid option
   */
  static async recover(options: RecoverRunnerOptions): Promise<ComfyUIJobRunner> {
    const { trackOptions = {}, ...runnerOptions } = options ?? ({} as RecoverRunnerOptions)
    const { store, instanceId } = runnerOptions
    assertProgressStore(store)
    assertInstanceId(instanceId)
    if (typeof trackOptions !== 'object' || trackOptions === null)
      invalid('trackOptions', trackOptions, 'an object')
    assertTrackOptions(trackOptions)
    const state = await store.instanceState(instanceId)
    const runner = new ComfyUIJobRunner({
      ...runnerOptions,
      clientIds: { ...state.clientIds, ...runnerOptions.clientIds },
    })
    runner.recoveredJobs = state.jobs.map((job) => runner.resume(job, trackOptions))
    runner.publishPods()
    return runner
  }

  /** The jobs of the previous run that `recover` followed again; none for a runner from `new`. */
  get recovered(): readonly RecoveredJob[] {
    return this.recoveredJobs
  }

  /** The funnel's metrics now. */
  get metrics(): RunnerMetrics {
    return this.metricsState.getValue()
  }

  /** The pods' states now. */
  get pods(): readonly RunnerPodStatus[] {
    return this.podsState.getValue()
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
    const { jobType = this.jobType, ...jobOptions } = options
    const { timeoutMs = 1_800_000 } = jobOptions
    assertJobType(jobType)
    // Building a job validates the workflow and options (it sends nothing until subscribed).
    this.slots[0]?.pod.executeWorkflow$(workflow, jobOptions)
    return defer(() => {
      this.count({ ...this.counts, jobs: this.counts.jobs + 1 })
      const deadline = this.scheduler.now() + timeoutMs
      return this.attempt$(workflow, jobOptions, jobType, deadline, undefined)
    }).pipe(
      tap((event) => {
        if (event.type === 'progress')
          this.count({ ...this.counts, progressUpdates: this.counts.progressUpdates + 1 })
      }),
      this.publish(),
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
    this.watching.unsubscribe()
    for (const ticket of this.waiting.splice(0)) ticket.fail(this.closedError())
    for (const slot of this.slots) {
      slot.healthy = false
      slot.recheck$.complete()
      slot.close?.()
    }
    this.publishPods()
    this.podsState.complete()
    this.metricsState.complete()
  }

  private attempt$(
    workflow: Workflow,
    options: ExecuteWorkflowOptions,
    jobType: JobType,
    deadline: number,
    excluded: Slot | undefined,
  ): Observable<JobEvent> {
    const restFallback = options.restFallback ?? true
    const left = (): number => deadline - this.scheduler.now()
    const limited = Number.isFinite(deadline)
    const slot$ = limited
      ? this.slot$(excluded).pipe(
          timeout({
            first: Math.max(0, left()),
            scheduler: this.scheduler,
            with: () =>
              throwError(() => new ComfyTimeoutError(undefined, options.timeoutMs ?? 1_800_000)),
          }),
        )
      : this.slot$(excluded)
    return slot$.pipe(
      switchMap((slot) => {
        this.count({ ...this.counts, dispatched: this.counts.dispatched + 1 })
        let started = false
        let released = false
        const release = (): void => {
          if (released) return
          released = true
          slot.inFlight--
          this.dispatch()
        }
        const retried = (error: unknown): boolean =>
          !started && excluded === undefined && this.slots.length > 1 && isUnsentPrompt(error)
        // Recorded before POST /prompt is sent: an instance killed at any moment after it finds
        // the job again (or learns it was lost) on recovery.
        let recorded: string = randomUUID()
        const record = (promptId: string): void => {
          recorded = promptId
          this.record({ promptId, podUrl: slot.pod.url, clientId: slot.pod.clientId })
        }
        const job$ = defer(() => {
          record(recorded)
          return slot.pod.executeWorkflow$(workflow, {
            ...options,
            promptId: recorded,
            ...(limited ? { timeoutMs: Math.max(1, left()) } : {}),
          })
        })
        return job$.pipe(
          tap((event) => {
            started = true
            // An old pod picked its own id for the prompt: that is the one to find it by.
            if (event.promptId === recorded) return
            this.forget(recorded)
            record(event.promptId)
          }),
          finalize(() => this.forget(recorded)),
          reportJob(this.sink, {
            pod: slot.pod,
            jobType,
            restFallback,
            isRetried: retried,
            scheduler: this.scheduler,
          }),
          finalize(release),
          catchError((error: unknown) => {
            if (!retried(error)) return throwError(() => error)
            // The pod refused a connection: check it now, and never send this job there again.
            release()
            slot.recheck$.next()
            this.count({ ...this.counts, retried: this.counts.retried + 1 })
            return this.attempt$(workflow, options, jobType, deadline, slot)
          }),
        )
      }),
    )
  }

  /**
   * Follows a job of the previous run on its pod, where it counts as in flight, publishing its
   * progress; forgets it in the store once it has ended (not when the runner is closed first).
   */
  private resume(job: InFlightJob, options: TrackPromptOptions): RecoveredJob {
    const { promptId, podUrl } = job
    const slot = this.slots.find(({ pod }) => pod.url === podUrl)
    const track$ = slot?.pod.track$?.bind(slot.pod)
    if (slot !== undefined && track$ !== undefined) slot.inFlight++
    const job$ = defer(() =>
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
      this.publish(promptId),
      finalize(() => {
        if (slot !== undefined && track$ !== undefined) {
          slot.inFlight--
          this.dispatch()
        }
        this.forget(promptId)
      }),
    )
    const result = new Promise<ComfyUIJobResult>((resolve, reject) => {
      const subscription = job$.subscribe({
        next: (event) => {
          if (event.type === 'completed') resolve(event.result)
        },
        error: reject,
      })
      // After the end, a no-op; before it (the runner closed), the job's promise still settles.
      subscription.add(() => reject(this.closedError()))
      this.watching.add(subscription)
    })
    // Whoever ignores the recovered jobs gets no unhandled rejection.
    result.catch(() => {})
    return { promptId, podUrl, result }
  }

  /** Keeps a job a pod took in the store, for a restart of this instance. */
  private record(job: InFlightJob): void {
    const { store, instanceId } = this
    if (store !== undefined && instanceId !== undefined)
      quietly(() => store.addJob(instanceId, job))
  }

  /** Forgets an ended job in the store; a job the runner's closing ended is kept for a restart. */
  private forget(promptId: string): void {
    const { store, instanceId } = this
    if (store !== undefined && instanceId !== undefined && !this.isClosed)
      quietly(() => store.removeJob(instanceId, promptId))
  }

  /** Waits for a pod with room, which it reserves; gives up its place when unsubscribed. */
  private slot$(excluded: Slot | undefined): Observable<Slot> {
    return new Observable<Slot>((subscriber) => {
      if (this.isClosed) {
        subscriber.error(this.closedError())
        return
      }
      const ticket: Ticket = {
        excluded,
        assign: (slot) => {
          subscriber.next(slot)
          subscriber.complete()
        },
        fail: (error) => subscriber.error(error),
      }
      this.waiting.push(ticket)
      this.dispatch()
      return () => {
        const index = this.waiting.indexOf(ticket)
        if (index >= 0) this.waiting.splice(index, 1)
      }
    })
  }

  /** Gives waiting jobs, oldest first, to the least-loaded healthy pods with room. */
  private dispatch(): void {
    // Assigning a job subscribes it, which may end another and call back in here.
    if (this.dispatching) {
      this.dispatchAgain = true
      return
    }
    this.dispatching = true
    try {
      do {
        this.dispatchAgain = false
        for (const ticket of [...this.waiting]) {
          const slot = this.leastLoaded(ticket.excluded)
          if (slot === undefined) continue
          const index = this.waiting.indexOf(ticket)
          if (index < 0) continue
          this.waiting.splice(index, 1)
          slot.inFlight++
          ticket.assign(slot)
        }
      } while (this.dispatchAgain)
    } finally {
      this.dispatching = false
    }
    this.publishPods()
  }

  private leastLoaded(excluded: Slot | undefined): Slot | undefined {
    let best: Slot | undefined
    for (const slot of this.slots) {
      if (!slot.healthy || slot === excluded || slot.inFlight >= this.concurrencyPerPod) continue
      if (best === undefined || load(slot) < load(best)) best = slot
    }
    return best
  }

  /**
   * A pod in the rotation while its health check passes and its socket is open; out of it, and
   * checked again after `podRetryMs`, when either fails.
   */
  private watch$(slot: Slot): Observable<never> {
    const { pod } = slot
    const check$ = (): Observable<void> =>
      checkPodHealth(pod, this.healthCheckTimeoutMs, this.scheduler)
    const podClosed$ = pod.connection$.pipe(ignoreElements(), endWith(null))
    const live$ = merge(
      pod.messages$.pipe(
        tap((message) => {
          if (!StatusMessage.is(message) || !message.data.status) return
          slot.queueRemaining = message.data.status.exec_info.queue_remaining
          this.dispatch()
        }),
      ),
      pod.connection$.pipe(
        map((state) => state.state === 'open'),
        distinctUntilChanged(),
        tap((open) => {
          slot.healthy = open
          this.dispatch()
        }),
      ),
      merge(
        timer(this.healthCheckIntervalMs, this.healthCheckIntervalMs, this.scheduler),
        slot.recheck$,
      ).pipe(exhaustMap(check$)),
    ).pipe(ignoreElements(), takeUntil(podClosed$))
    return check$().pipe(
      switchMap(() => live$),
      retry({
        delay: () => {
          slot.healthy = false
          this.publishPods()
          return timer(this.podRetryMs, this.scheduler)
        },
      }),
      finalize(() => {
        slot.healthy = false
        if (!this.isClosed) this.publishPods()
      }),
    )
  }

  private count(counts: RunnerCounts): void {
    this.counts = counts
    if (!this.isClosed) this.metricsState.next(metricsOf(counts))
  }

  private publishPods(): void {
    if (!this.podsState.closed) this.podsState.next(this.podStatuses())
  }

  private podStatuses(): readonly RunnerPodStatus[] {
    return this.slots.map(({ pod, healthy, queueRemaining, inFlight }) => ({
      url: pod.url,
      clientId: pod.clientId,
      healthy,
      queueRemaining,
      inFlight,
    }))
  }

  private closedError(): ComfyConnectionError {
    return new ComfyConnectionError('the job runner is closed', '', 'runner_closed')
  }
}

/**
 * A write to the store, which reports its own failures (`diagnostics$`): a store that throws or
 * rejects anyway does not fail the job.
 */
function quietly(write: () => Promise<void>): void {
  try {
    write().catch(() => {})
  } catch {
    // See above.
  }
}

function assertInstanceId(instanceId: unknown): asserts instanceId is string {
  if (typeof instanceId !== 'string' || instanceId === '')
    invalid('instanceId', instanceId, 'a non-empty string')
}

function load(slot: Slot): number {
  return slot.queueRemaining + slot.inFlight
}
