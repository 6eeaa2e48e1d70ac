import { randomUUID } from 'node:crypto'
import { BehaviorSubject, type Observable, ReplaySubject, share, Subject, timer } from 'rxjs'
import type { CancelledPhase } from '../errors/ComfyCancelledError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { formEncode } from '../internal/formEncode.js'
import { redactUrl } from '../internal/redactUrl.js'
import { AlarmClock } from '../job/AlarmClock.js'
import { assertPromptId } from '../job/assertPromptId.js'
import { executeWorkflow, type QueuePrompt } from '../job/executeWorkflow.js'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { CostModel } from '../job/CostModel.js'
import { FollowedPrompts } from '../job/FollowedPrompts.js'
import type { JobContext } from '../job/JobContext.js'
import type { JobEvent } from '../job/JobEvent.js'
import { trackPrompt } from '../job/trackPrompt.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import type { Workflow } from '../job/Workflow.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { Queue } from '../protocol/Queue.js'
import { SystemStats } from '../protocol/SystemStats.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import { MessageHub } from '../socket/MessageHub.js'
import { podAddress, type PodAddress } from '../socket/podAddress.js'
import type { PodDiagnostic } from '../socket/PodDiagnostic.js'
import { podMessages$ } from '../socket/podMessages.js'
import {
  resolvePodOptions,
  type ComfyPodOptions,
  type ResolvedPodOptions,
} from './ComfyPodOptions.js'
import type { ImageReference } from './ImageReference.js'
import { PodHttpClient } from './PodHttpClient.js'
import { PodPrompts } from './PodPrompts.js'
import type { QueuedPrompt } from './QueuedPrompt.js'
import type { QueueWorkflowOptions } from './QueueWorkflowOptions.js'
import { FrameSubject } from './FrameSubject.js'

/**
 * One ComfyUI server. Its WebSocket is a hot, shared stream: one socket however many jobs
 * listen, opened on the first subscription and closed `idleCloseMs` after the last one leaves.
 *
 * @example
 * ```ts
 * import { ComfyPod } from 'comfyui-rx'
 *
 * const pod = new ComfyPod('http://127.0.0.1:8188')
 * pod.executeWorkflow$(workflow).subscribe((event) => {
 *   if (event.type === 'progress') console.log(`${event.progress}%`) // 12.5%
 *   if (event.type === 'completed') console.log(event.result.images[0]?.url)
 * })
 * ```
 */
export class ComfyPod {
  /** The id this client registers under on the pod. */
  readonly clientId: string
  /** The pod's URL, with credentials replaced by `***`. */
  readonly url: string
  /**
   * Every decoded message and binary frame of the pod, hot and shared. Subscribing opens the
   * socket (if it is not open); it reconnects by itself and errors with `ComfyConnectionError`
   * once `maxReconnectAttempts` are spent. Completes when the pod is closed.
   */
  readonly messages$: Observable<PodMessage>
  /** The socket's state; replays the current one to new subscribers. */
  readonly connection$: Observable<ConnectionState>
  /** Frames that could not be decoded and socket errors; they never error `messages$`. */
  readonly diagnostics$: Observable<PodDiagnostic>
  /**
   * How long each node class takes on this pod, learnt from its jobs (`ComfyPodOptions.costModel`):
   * typical durations to show, costs to save or share.
   */
  readonly costModel: CostModel

  private readonly options: ResolvedPodOptions
  private readonly address: PodAddress
  private readonly http: PodHttpClient
  /** Where jobs listen: one subscription to `messages$` for all of them. */
  private readonly hub: MessageHub
  private readonly connection = new BehaviorSubject<ConnectionState>({
    state: 'closed',
    reason: 'not opened yet',
  })
  private readonly diagnostics = new Subject<PodDiagnostic>()
  /** Replays to late subscribers, so that a closed pod's streams complete at once. */
  private readonly closed$ = new ReplaySubject<void>(1)
  private isClosed = false
  private readonly reconnect$ = new Subject<void>()
  /** `POST /prompt`s under way, by the prompt id asked for. */
  private readonly submitting = new Map<string, Promise<QueuedPrompt>>()
  /** Where the pod's prompts stand, over REST. */
  private readonly prompts: PodPrompts
  /** The jobs of each prompt in this process. */
  private readonly followed = new FollowedPrompts()
  private readonly jobContext: JobContext
  private readonly queuePrompt: QueuePrompt

  /**
   * @param url - `http(s)://[user:pass@]host[:port][/base]`; the WebSocket URL is derived from it
   * @param options - see `ComfyPodOptions`
   * @throws TypeError for a URL that is not http(s) or an invalid option
   */
  constructor(url: string, options: ComfyPodOptions = {}) {
    this.options = resolvePodOptions(options)
    this.clientId = this.options.clientId
    this.costModel = this.options.costModel
    this.address = podAddress(url, this.clientId)
    this.url = this.address.display
    this.http = new PodHttpClient(
      this.address,
      { ...this.options.headers, ...this.address.headers },
      this.options.fetch,
      this.options.requestTimeoutMs,
      this.options.scheduler,
    )
    this.prompts = new PodPrompts(this.http, this.options.scheduler)
    this.connection$ = this.connection.asObservable()
    this.diagnostics$ = this.diagnostics.asObservable()
    this.messages$ = podMessages$(this.address, this.options, {
      state: (state) => this.connection.next(state),
      diagnostic: (diagnostic) => this.diagnostics.next(diagnostic),
      reconnect$: this.reconnect$,
      closed$: this.closed$,
    }).pipe(
      share({
        connector: () => new FrameSubject<PodMessage>(),
        resetOnRefCountZero: () => timer(this.options.idleCloseMs, this.options.scheduler),
      }),
    )
    this.hub = new MessageHub({
      messages$: this.messages$,
      connection$: this.connection$,
      scheduler: this.options.scheduler,
      retryMs: this.options.maxReconnectDelayMs,
      graceMs: this.options.socketGraceMs,
      closedError: () => this.closedError(),
    })
    const { hub } = this
    this.jobContext = {
      scheduler: this.options.scheduler,
      alarms: new AlarmClock(this.options.scheduler),
      costModel: this.costModel,
      prompts: this.followed,
      newPromptId: () => randomUUID(),
      attach: (listener) => hub.attach(listener),
      detach: (listener) => hub.detach(listener),
      route: (promptId, listener) => hub.route(promptId, listener),
      unroute: (promptId, listener) => hub.unroute(promptId, listener),
      reconnect: () => this.reconnect$.next(),
      lastMessageAt: () => hub.lastMessageAt(),
      queueState: (promptId, graph) => this.prompts.queueState(promptId, graph),
      getHistory: (promptId) => this.prompts.outcome(promptId),
      lookUp: (promptId) => this.prompts.lookUp(promptId),
      cancel: (promptId) => this.cancel(promptId),
      viewUrl: (image) => this.viewUrl(image),
    }
    this.queuePrompt = ({ workflow, promptId, extraData, front }) =>
      this.queueWorkflow(workflow, { promptId, extraData, front })
  }

  /**
   * Queues a workflow and follows it to its end: the Observable of its `JobEvent`s. Cold:
   * nothing is sent until subscription. Listens before it asks, so no event is lost.
   *
   * @example
   * ```ts
   * pod.executeWorkflow$(workflow, { progressThrottleMs: 250 }).subscribe({
   *   next: (event) => console.log(event.type), // queued, started, progress, …, completed
   *   error: (error) => console.error(error.name), // ComfyExecutionError, …
   * })
   * ```
   * @param workflow - an API-format workflow ("Export (API)")
   * @param options - see `ExecuteWorkflowOptions`
   * @returns queued · started · progress · preview · node_executed · completed, then complete;
   *   or an error of a `ComfyError` class
   * @throws TypeError for a workflow not in API format or an invalid option
   */
  executeWorkflow$(workflow: Workflow, options?: ExecuteWorkflowOptions): Observable<JobEvent> {
    return executeWorkflow(this.jobContext, this.queuePrompt, workflow, options)
  }

  /**
   * Follows a prompt queued earlier — by this process, or by a previous one that used the same
   * `clientId` — to its end, as `executeWorkflow$` would: reconciled from `/queue` and
   * `/history` first, then the socket, with the same fallback, watchdog and single end.
   *
   * @example
   * ```ts
   * const pod = new ComfyPod(url, { clientId: savedClientId })
   * pod.track$(savedPromptId).subscribe((event) => console.log(event.type)) // queued, started, …
   * ```
   * @param promptId - the id the pod gave the prompt
   * @param options - see `TrackPromptOptions`
   * @returns the prompt's `JobEvent`s from where it stands now; `ComfyPromptLostError` if the
   *   pod has it neither queued nor in history
   * @throws TypeError for an empty promptId or an invalid option
   */
  track$(promptId: string, options?: TrackPromptOptions): Observable<JobEvent> {
    return trackPrompt(this.jobContext, promptId, options)
  }

  /**
   * `POST /prompt` with this pod's `client_id` and a prompt id of its own.
   *
   * @returns the id the pod uses, its queue number and any dropped outputs' errors
   * @throws TypeError for a promptId that is not a lower-case hyphenated UUID (before anything is sent)
   * @throws ComfyValidationError when the pod answers 400; ComfyHttpError for other failures
   */
  queueWorkflow(workflow: Workflow, options: QueueWorkflowOptions = {}): Promise<QueuedPrompt> {
    const { promptId = randomUUID() } = options
    assertPromptId('promptId', promptId)
    // Kept until answered, so that a cancel that overtakes the answer still finds the prompt.
    // Registered before the request starts: a cancel may come while it is being sent.
    const queued = Promise.resolve().then(() =>
      this.prompts.submit(workflow, promptId, this.clientId, options),
    )
    this.submitting.set(promptId, queued)
    const forget = (): void => void this.submitting.delete(promptId)
    queued.then(forget, forget)
    return queued
  }

  /**
   * `GET /history/{promptId}`.
   *
   * @returns the prompt's entry, or undefined while it has none (queued, running, unknown)
   * @throws ComfyHttpError
   */
  getHistory(promptId: string): Promise<HistoryEntry | undefined> {
    return this.prompts.history(promptId)
  }

  /**
   * `GET /queue`: the running prompt and the pending ones (in heap order).
   *
   * @throws ComfyHttpError
   */
  getQueue(): Promise<Queue> {
    return this.prompts.queue()
  }

  /**
   * `GET /system_stats`: versions, memory and devices; a cheap health check.
   *
   * @param options - `signal` ends the request early (a health check that gave up on it)
   * @throws ComfyHttpError
   */
  getSystemStats(options: { readonly signal?: AbortSignal } = {}): Promise<SystemStats> {
    return this.http.json(SystemStats, 'GET', '/system_stats', undefined, options.signal)
  }

  /**
   * Cancels a prompt without touching anyone else's: atomically by id on pods with the Jobs API
   * (`POST /api/jobs/{id}/cancel`, ComfyUI 0.26+); elsewhere deleted from the queue while pending
   * (interrupted if it started meanwhile), interrupted by prompt id while running (§5.7). Nothing
   * once it has finished. A prompt whose `POST /prompt` is still under way is cancelled once the
   * pod has answered. The jobs of this pod that follow the prompt end at once with
   * `ComfyCancelledError` (ComfyUI sends nothing about a deleted prompt).
   *
   * @example
   * ```ts
   * pod.executeWorkflow$(workflow, { promptId }).subscribe({
   *   error: (error) => console.log(error.name, error.phase), // ComfyCancelledError pending
   * })
   * await pod.cancel(promptId)
   * ```
   * @returns where the prompt was when cancelled, or undefined if there was nothing to cancel
   * @throws ComfyHttpError
   */
  async cancel(promptId: string): Promise<CancelledPhase | undefined> {
    const submitting = this.submitting.get(promptId)
    if (submitting !== undefined) {
      const answer = await submitting.catch(() => undefined)
      if (answer === undefined) return undefined
      promptId = answer.promptId
    }
    const seenRunning = this.followed.phaseOf(promptId) === 'running'
    const phase = await this.prompts.cancel(promptId, seenRunning)
    if (phase !== undefined) this.followed.cancelled(promptId, phase)
    return phase
  }

  /**
   * The `/view` URL of an output image.
   *
   * @example
   * ```ts
   * pod.viewUrl({ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' })
   * // http://127.0.0.1:8188/view?filename=ComfyUI_00001_.png&subfolder=&type=output
   * ```
   */
  viewUrl(image: ImageReference): string {
    const filename = formEncode(image.filename)
    const subfolder = formEncode(image.subfolder ?? '')
    const type = formEncode(image.type ?? 'output')
    return this.address.httpUrl(`/view?filename=${filename}&subfolder=${subfolder}&type=${type}`)
  }

  /**
   * Closes the socket now and ends the pod: `messages$` completes, running jobs fail with
   * `ComfyConnectionError` (reason `pod_closed`), new jobs fail at once. Idempotent.
   */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closed$.next()
    this.closed$.complete()
    this.hub.close()
    this.connection.complete()
    this.diagnostics.complete()
    this.reconnect$.complete()
  }

  private closedError(): ComfyConnectionError {
    return new ComfyConnectionError(
      'the pod is closed',
      redactUrl(this.address.wsUrl),
      'pod_closed',
    )
  }
}
