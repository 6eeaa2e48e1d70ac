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
  ignoreElements,
  lastValueFrom,
  map,
  merge,
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
import type { Workflow } from '../job/Workflow.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { invalid, positive, type ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import type { ConnectionState } from '../pod/ConnectionState.js'
import { StatusMessage } from '../protocol/ComfyMessage.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
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
}

/** Options of `runner.run$(workflow, options)`: the job's, and its analytics `jobType`. */
export interface RunJobOptions extends ExecuteWorkflowOptions {
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
  private readonly userSink: AnalyticsSink
  /** The user's sink, with the runner's metrics counted on the way. */
  private readonly sink: AnalyticsSink
  private readonly waiting: Ticket[] = []
  private readonly watching = new Subscription()
  // BehaviorSubjects: the runner's state changes imperatively (dispatch, counters) and both
  // streams must replay the current value to late subscribers, as the snapshots do.
  private readonly metricsState = new BehaviorSubject<RunnerMetrics>(metricsOf(NO_COUNTS))
  private readonly podsState: BehaviorSubject<readonly RunnerPodStatus[]>
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
      const pod = typeof given === 'string' ? new ComfyPod(given, podOptions) : undefined
      return {
        pod: pod ?? (given as RunnerPod),
        close: pod === undefined ? undefined : () => pod.close(),
        recheck$: new Subject<void>(),
        healthy: false,
        queueRemaining: 0,
        inFlight: 0,
      }
    })
    this.podsState = new BehaviorSubject(this.podStatuses())
    this.metrics$ = this.metricsState.asObservable()
    this.pods$ = this.podsState.asObservable()
    // Watched from now on (as a connection pool connects), so the first job finds pods ready.
    for (const slot of this.slots) {
      this.watching.add(reportPod(slot.pod, this.sink, { scheduler: this.scheduler }))
      this.watching.add(this.watch$(slot).subscribe())
    }
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
        const job$ = slot.pod.executeWorkflow$(workflow, {
          ...options,
          ...(limited ? { timeoutMs: Math.max(1, left()) } : {}),
        })
        return job$.pipe(
          tap(() => (started = true)),
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

function load(slot: Slot): number {
  return slot.queueRemaining + slot.inFlight
}
