import {
  asyncScheduler,
  filter,
  firstValueFrom,
  lastValueFrom,
  map,
  type Observable,
  type Subscription,
  take,
  tap,
} from 'rxjs'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { assertHandlerOptions } from './assertHandlerOptions.js'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import { noopAnalyticsSink } from '../analytics/noopAnalyticsSink.js'
import { reportJob } from '../analytics/reportJob.js'
import { reportPod } from '../analytics/reportPod.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { JobEvent, JobProgress } from '../job/JobEvent.js'
import type { Workflow } from '../job/Workflow.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import { checkPodHealth } from '../runner/checkPodHealth.js'
import { callHandler, logHandlerError, type HandlerErrorReporter } from './callHandler.js'
import { jobStatusOf, pendingStatus } from './jobStatusOf.js'

/** Called with a job's progress, 0–100, and the event it came with. */
export type ProgressHandler = (progress: number, event: JobProgress) => void

/** Options of `new ComfyUIPodClient(baseUrl, options)`: the pod's, and these. */
export interface ComfyUIPodClientOptions extends ComfyPodOptions {
  /**
   * Limit of the health check (`GET /system_stats`) made before a socket is opened for a job.
   * @default 5000
   */
  readonly healthCheckTimeoutMs?: number
  /**
   * Options of every job (`progressThrottleMs`, `timeoutMs`, …); `restFallback` is set by the
   * method called.
   * @default {}
   */
  readonly jobOptions?: Omit<ExecuteWorkflowOptions, 'restFallback'>
  /**
   * Where the analytics events of the pod's socket and of every job go.
   * @default noopAnalyticsSink
   */
  readonly analytics?: AnalyticsSink
  /**
   * `jobType` of the progress analytics.
   * @default 'image_generation'
   */
  readonly jobType?: JobType
  /**
   * Receives what an `onProgress` callback throws; the job goes on regardless.
   * @default logs it with console.error
   */
  readonly onHandlerError?: HandlerErrorReporter
}

/**
 * The original design's promise API over one pod: queue a workflow, ask for its status, or run
 * it to its end with progress callbacks. A thin adapter over `ComfyPod`'s Observables: the same
 * single socket, fallback, typed errors and exactly-once end.
 *
 * @example
 * ```ts
 * import { ComfyUIPodClient } from 'comfyui-rx'
 *
 * const client = new ComfyUIPodClient('http://127.0.0.1:8188')
 * const result = await client.executeWorkflow(workflow, (progress) => console.log(`${progress}%`))
 * console.log(result.method, result.images[0]?.url) // websocket http://127.0.0.1:8188/view?filename=…
 * client.close()
 * ```
 */
export class ComfyUIPodClient {
  /** The pod under the client, for the Observable API. */
  readonly pod: ComfyPod
  private restOnlyPod: ComfyPod | undefined
  private readonly reporting: Subscription
  private readonly settings: Required<Omit<ComfyUIPodClientOptions, keyof ComfyPodOptions>>
  private readonly podOptions: ComfyPodOptions

  /**
   * @param baseUrl - `http(s)://[user:pass@]host[:port][/base]`
   * @param options - see `ComfyUIPodClientOptions`
   * @throws TypeError for a URL that is not http(s) or an invalid option
   */
  constructor(
    private readonly baseUrl: string,
    options: ComfyUIPodClientOptions = {},
  ) {
    const {
      healthCheckTimeoutMs = 5000,
      jobOptions = {},
      analytics = noopAnalyticsSink,
      jobType = 'image_generation',
      onHandlerError = logHandlerError,
      ...podOptions
    } = options
    positive('healthCheckTimeoutMs', healthCheckTimeoutMs)
    if (typeof jobOptions !== 'object' || jobOptions === null)
      invalid('jobOptions', jobOptions, 'an object')
    assertHandlerOptions({ analytics, jobType, onHandlerError })
    this.settings = { healthCheckTimeoutMs, jobOptions, analytics, jobType, onHandlerError }
    this.podOptions = podOptions
    this.pod = new ComfyPod(baseUrl, podOptions)
    this.reporting = reportPod(this.pod, analytics, { scheduler: this.scheduler })
  }

  /**
   * `POST /prompt`: queues a workflow with this client's id and returns at once.
   *
   * @returns the prompt id
   * @throws ComfyValidationError when the pod rejects the workflow; ComfyHttpError
   */
  async queueWorkflow(workflow: Workflow): Promise<string> {
    const { promptId } = await this.pod.queueWorkflow(workflow)
    return promptId
  }

  /**
   * Where a prompt stands, over REST only (`GET /queue`, then `GET /history/{id}`): `queued`,
   * `processing`, or `completed` with its images, or `failed`.
   *
   * @throws ComfyPromptLostError when the pod has the prompt neither queued nor in history;
   *   ComfyHttpError
   */
  async getJobStatus(promptId: string): Promise<ComfyUIJobResult> {
    if (typeof promptId !== 'string' || promptId === '')
      invalid('promptId', promptId, 'a non-empty string')
    // The queue first: a prompt leaves it only once its history entry is written.
    const queue = await this.pod.getQueue()
    if (queue.queue_running.some(([, id]) => id === promptId))
      return pendingStatus(promptId, 'processing')
    if (queue.queue_pending.some(([, id]) => id === promptId))
      return pendingStatus(promptId, 'queued')
    const entry = await this.pod.getHistory(promptId)
    if (entry === undefined) throw new ComfyPromptLostError(promptId)
    return jobStatusOf(promptId, entry, (image) => this.pod.viewUrl(image))
  }

  /**
   * Runs a workflow to its end: over the socket when the pod passes its health check (falling
   * back to REST polling by itself if the socket is lost), by REST polling at once when it does
   * not. The prompt is queued once, whatever happens to the socket.
   *
   * @param workflow - an API-format workflow
   * @param onProgress - called with the progress, 0–100
   * @returns the result, `status: 'completed'`
   * @throws TypeError for an invalid workflow (as a rejection); every `ComfyError` of a job
   */
  executeWorkflow(workflow: Workflow, onProgress?: ProgressHandler): Promise<ComfyUIJobResult> {
    return this.run(workflow, onProgress, true)
  }

  /**
   * Runs a workflow over the socket alone: rejects with `ComfyConnectionError` when the pod fails
   * its health check, or when the socket fails or is lost before the end.
   *
   * @param workflow - an API-format workflow
   * @param onProgress - called with the progress, 0–100
   * @returns the result, `method: 'websocket'`
   * @throws ComfyConnectionError; every other `ComfyError` of a job
   */
  executeWorkflowWithWebSocket(
    workflow: Workflow,
    onProgress?: ProgressHandler,
  ): Promise<ComfyUIJobResult> {
    return this.run(workflow, onProgress, false)
  }

  /**
   * The health check the socket attempts wait for: `GET /system_stats` within
   * `healthCheckTimeoutMs`.
   *
   * @returns whether the pod answered in time
   */
  async checkHealth(): Promise<boolean> {
    return this.health().then(
      () => true,
      () => false,
    )
  }

  /** Closes the pod (its socket, its jobs: `ComfyConnectionError` `pod_closed`). Idempotent. */
  close(): void {
    this.reporting.unsubscribe()
    this.pod.close()
    this.restOnlyPod?.close()
  }

  private get scheduler() {
    return this.podOptions.scheduler ?? asyncScheduler
  }

  private health(): Promise<void> {
    return firstValueFrom(
      checkPodHealth(this.pod, this.settings.healthCheckTimeoutMs, this.scheduler),
    )
  }

  private async run(
    workflow: Workflow,
    onProgress: ProgressHandler | undefined,
    restFallback: boolean,
  ): Promise<ComfyUIJobResult> {
    if (onProgress !== undefined && typeof onProgress !== 'function')
      invalid('onProgress', onProgress, 'a function')
    const options: ExecuteWorkflowOptions = { ...this.settings.jobOptions, restFallback }
    // Built first: a bad workflow or option is a TypeError before anything goes out.
    let job$ = this.pod.executeWorkflow$(workflow, options)
    let pod = this.pod
    if (!(await this.socketIsOpen())) {
      const failure = await this.health().then(
        () => undefined,
        (error: unknown) => ({ error }),
      )
      if (failure !== undefined) {
        if (!restFallback) {
          throw new ComfyConnectionError(
            `${this.pod.url} failed its health check; no socket was opened`,
            this.pod.url,
            'health_check_failed',
            { cause: failure.error },
          )
        }
        pod = this.restOnly()
        job$ = pod.executeWorkflow$(workflow, options)
      }
    }
    const { analytics, jobType, onHandlerError } = this.settings
    return lastValueFrom(
      job$.pipe(
        reportJob(analytics, { pod, jobType, restFallback, scheduler: this.scheduler }),
        tap((event) => {
          if (event.type === 'progress' && onProgress !== undefined)
            callHandler(onProgress, [event.progress, event], onHandlerError, event.promptId)
        }),
        resultOf,
      ),
    )
  }

  private socketIsOpen(): Promise<boolean> {
    return firstValueFrom(
      this.pod.connection$.pipe(
        take(1),
        map((state) => state.state === 'open'),
      ),
      { defaultValue: false },
    )
  }

  /**
   * A twin of the pod whose socket fails at once, so that its jobs queue over REST and poll from
   * the start; a job there never waits for a socket its pod's health check said would not come.
   */
  private restOnly(): ComfyPod {
    this.restOnlyPod ??= new ComfyPod(this.baseUrl, {
      ...this.podOptions,
      clientId: this.pod.clientId,
      maxReconnectAttempts: 0,
      webSocketFactory: () => {
        throw new Error('no socket: the pod failed its health check')
      },
    })
    return this.restOnlyPod
  }
}

function resultOf(events$: Observable<JobEvent>): Observable<ComfyUIJobResult> {
  return events$.pipe(
    filter((event) => event.type === 'completed'),
    map((event) => event.result),
  )
}
