import {
  asyncScheduler,
  catchError,
  concatMap,
  defaultIfEmpty,
  filter,
  finalize,
  firstValueFrom,
  from,
  map,
  type Observable,
  of,
  type Subscription,
  switchMap,
  take,
  throwError,
} from 'rxjs'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import type { JobType } from '../analytics/AnalyticsEvent.js'
import { reportJob } from '../analytics/reportJob.js'
import { reportPod } from '../analytics/reportPod.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { invalid } from '../internal/optionChecks.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import { callHandler, type HandlerErrorReporter } from './callHandler.js'
import type { ProgressHandler } from './ComfyUIPodClient.js'
import {
  type ComfyUIWebSocketClientOptions,
  type CompletionHandler,
  type ErrorHandler,
  resolveWebSocketClientOptions,
} from './ComfyUIWebSocketClientOptions.js'

interface Connection {
  readonly pod: ComfyPod
  readonly reporting: Subscription
  /** Holds the socket open between prompts; replaced when the socket was lost for good. */
  socket: Subscription | undefined
  /** Why the socket was last lost for good. */
  lastError: unknown
}

interface TrackedPrompt {
  readonly progress: Set<ProgressHandler>
  readonly completion: Set<CompletionHandler>
  readonly error: Set<ErrorHandler>
  /** The connection the prompt is followed on, once known. */
  connection: Connection | undefined
  subscription: Subscription | undefined
}

type HandlerKind = 'progress' | 'completion' | 'error'

/**
 * The original design's callback API over pods' sockets: `connect` to a pod, then register
 * handlers per prompt. A prompt with handlers is followed with `pod.track$` (reconciled over
 * REST, then the socket, with the REST fallback), so handlers registered after the prompt was
 * queued — or even after it ended — miss nothing. When the prompt ends its handlers and entries
 * are dropped; a handler that throws breaks neither its prompt nor another one.
 *
 * Queue prompts with the clientId `connect` returned (e.g. `new ComfyUIPodClient(url, {clientId})`
 * and `queueWorkflow`), so that the pod sends their progress to this socket.
 *
 * @example
 * ```ts
 * import { ComfyUIPodClient, ComfyUIWebSocketClient } from 'comfyui-rx'
 *
 * const sockets = new ComfyUIWebSocketClient()
 * const clientId = await sockets.connect('http://127.0.0.1:8188')
 * const client = new ComfyUIPodClient('http://127.0.0.1:8188', { clientId })
 * const promptId = await client.queueWorkflow(workflow)
 * sockets.onProgress(promptId, (progress) => console.log(`${progress}%`)) // 12.5%, …
 * sockets.onCompletion(promptId, (result) => console.log(result.images[0]?.url))
 * sockets.onError(promptId, (error) => console.error(error.name)) // ComfyExecutionError, …
 * // … later
 * sockets.disconnect(clientId)
 * ```
 */
export class ComfyUIWebSocketClient {
  private readonly connections = new Map<string, Connection>()
  private readonly prompts = new Map<string, TrackedPrompt>()
  private readonly podOptions: Omit<ComfyPodOptions, 'clientId'>
  private readonly trackOptions: TrackPromptOptions
  private readonly analytics: AnalyticsSink
  private readonly jobType: JobType
  private readonly onHandlerError: HandlerErrorReporter

  /**
   * @param options - see `ComfyUIWebSocketClientOptions`
   * @throws TypeError for an invalid option
   */
  constructor(options: ComfyUIWebSocketClientOptions = {}) {
    const { podOptions, trackOptions, analytics, jobType, onHandlerError } =
      resolveWebSocketClientOptions(options)
    this.podOptions = podOptions
    this.trackOptions = trackOptions
    this.analytics = analytics
    this.jobType = jobType
    this.onHandlerError = onHandlerError
  }

  /** The clientIds of the connections, in the order they were made. */
  get clientIds(): readonly string[] {
    return [...this.connections.keys()]
  }

  /** The prompts that have handlers now (they are dropped when the prompt ends). */
  get promptIds(): readonly string[] {
    return [...this.prompts.keys()]
  }

  /**
   * Opens a socket to a pod under `clientId` (a new one by default) and keeps it open until
   * `disconnect`. Connecting again with a connected clientId reuses its socket (reopening it if
   * it was lost for good).
   *
   * @param serverUrl - `http(s)://[user:pass@]host[:port][/base]`
   * @param clientId - the id to register under; reuse one to re-attach to its prompts
   * @returns the clientId, once the socket is open
   * @throws TypeError for a URL that is not http(s); ComfyConnectionError or ComfyAuthError (as
   *   rejections) when the socket cannot be opened
   */
  async connect(serverUrl: string, clientId?: string): Promise<string> {
    if (clientId !== undefined && (typeof clientId !== 'string' || clientId === ''))
      invalid('clientId', clientId, 'a non-empty string')
    const existing = clientId === undefined ? undefined : this.connections.get(clientId)
    if (existing !== undefined) {
      await this.open(existing)
      return existing.pod.clientId
    }
    const pod = new ComfyPod(serverUrl, {
      ...this.podOptions,
      ...(clientId === undefined ? {} : { clientId }),
    })
    const scheduler = this.podOptions.scheduler ?? asyncScheduler
    const connection: Connection = {
      pod,
      reporting: reportPod(pod, this.analytics, { scheduler }),
      socket: undefined,
      lastError: undefined,
    }
    this.connections.set(pod.clientId, connection)
    try {
      await this.open(connection)
    } catch (error) {
      this.disconnect(pod.clientId)
      throw error
    }
    return pod.clientId
  }

  /**
   * Calls `handler` with the prompt's progress, 0–100, until it ends.
   *
   * @returns a function that removes the handler
   * @throws TypeError for an empty promptId or a handler that is not a function; Error when no
   *   connection is open
   */
  onProgress(promptId: string, handler: ProgressHandler): () => void {
    return this.register(promptId, 'progress', handler)
  }

  /**
   * Calls `handler` once with the result when the prompt completes.
   *
   * @returns a function that removes the handler
   * @throws TypeError for an empty promptId or a handler that is not a function; Error when no
   *   connection is open
   */
  onCompletion(promptId: string, handler: CompletionHandler): () => void {
    return this.register(promptId, 'completion', handler)
  }

  /**
   * Calls `handler` once with the error when the prompt fails (`ComfyExecutionError`,
   * `ComfyInterruptedError`, `ComfyPromptLostError`, `ComfyTimeoutError`, …).
   *
   * @returns a function that removes the handler
   * @throws TypeError for an empty promptId or a handler that is not a function; Error when no
   *   connection is open
   */
  onError(promptId: string, handler: ErrorHandler): () => void {
    return this.register(promptId, 'error', handler)
  }

  /**
   * Closes the connection's socket and drops the handlers of the prompts followed on it (they are
   * not called). Unknown clientIds are ignored.
   */
  disconnect(clientId: string): void {
    const connection = this.connections.get(clientId)
    if (connection === undefined) return
    this.connections.delete(clientId)
    for (const [promptId, tracked] of this.prompts) {
      if (tracked.connection !== connection) continue
      this.prompts.delete(promptId)
      tracked.subscription?.unsubscribe()
    }
    connection.pod.close()
    connection.socket?.unsubscribe()
    connection.reporting.unsubscribe()
  }

  private async open(connection: Connection): Promise<void> {
    const { pod } = connection
    if (connection.socket === undefined || connection.socket.closed) {
      connection.lastError = undefined
      connection.socket = pod.messages$.subscribe({
        error: (error: unknown) => (connection.lastError = error),
      })
    }
    const state = await firstValueFrom(
      pod.connection$.pipe(filter((s) => s.state === 'open' || s.state === 'failed')),
      { defaultValue: undefined },
    )
    if (state?.state === 'open') return
    throw (
      connection.lastError ??
      new ComfyConnectionError(`${pod.url}: the connection was closed`, pod.url, 'pod_closed')
    )
  }

  private register(
    promptId: string,
    kind: HandlerKind,
    handler: ProgressHandler | CompletionHandler | ErrorHandler,
  ): () => void {
    if (typeof promptId !== 'string' || promptId === '')
      invalid('promptId', promptId, 'a non-empty string')
    if (typeof handler !== 'function') invalid('handler', handler, 'a function')
    if (this.connections.size === 0)
      throw new Error('ComfyUIWebSocketClient: connect() to a pod before registering handlers')
    let tracked = this.prompts.get(promptId)
    const isNew = tracked === undefined
    tracked ??= {
      progress: new Set(),
      completion: new Set(),
      error: new Set(),
      connection: undefined,
      subscription: undefined,
    }
    ;(tracked[kind] as Set<typeof handler>).add(handler)
    if (isNew) {
      this.prompts.set(promptId, tracked)
      this.follow(promptId, tracked)
    }
    const entry = tracked
    return () => {
      ;(entry[kind] as Set<typeof handler>).delete(handler)
      const empty = entry.progress.size + entry.completion.size + entry.error.size === 0
      if (empty && this.prompts.get(promptId) === entry) {
        this.prompts.delete(promptId)
        entry.subscription?.unsubscribe()
      }
    }
  }

  private follow(promptId: string, tracked: TrackedPrompt): void {
    const drop = (): void => {
      if (this.prompts.get(promptId) === tracked) this.prompts.delete(promptId)
    }
    const call = <A extends unknown[]>(handlers: Set<(...args: A) => void>, args: A): void => {
      for (const handler of [...handlers]) callHandler(handler, args, this.onHandlerError, promptId)
    }
    tracked.subscription = this.owner$(promptId)
      .pipe(
        switchMap((connection) => {
          tracked.connection = connection
          const { pod } = connection
          return pod.track$(promptId, this.trackOptions).pipe(
            reportJob(this.analytics, {
              pod,
              jobType: this.jobType,
              ...(this.trackOptions.restFallback === undefined
                ? {}
                : { restFallback: this.trackOptions.restFallback }),
              scheduler: this.podOptions.scheduler ?? asyncScheduler,
            }),
          )
        }),
        finalize(drop),
      )
      .subscribe({
        next: (event: JobEvent) => {
          if (event.type === 'progress') call(tracked.progress, [event.progress, event])
          if (event.type === 'completed') {
            drop()
            call(tracked.completion, [event.result])
          }
        },
        error: (error: unknown) => {
          drop()
          call(tracked.error, [error instanceof Error ? error : new Error(String(error))])
        },
      })
  }

  /**
   * The connection to follow a prompt on: the only one, or else the first whose pod has the
   * prompt queued or in history (the others would call it lost).
   */
  private owner$(promptId: string): Observable<Connection> {
    const connections = [...this.connections.values()]
    const [first, ...others] = connections
    if (first === undefined) return throwError(() => new Error('no connection'))
    if (others.length === 0) return of(first)
    return from(connections).pipe(
      concatMap((connection) =>
        from(holds(connection.pod, promptId)).pipe(
          catchError(() => of(false)),
          filter(Boolean),
          map(() => connection),
        ),
      ),
      take(1),
      defaultIfEmpty(first),
    )
  }
}

async function holds(pod: ComfyPod, promptId: string): Promise<boolean> {
  const queue = await pod.getQueue()
  const queued = [...queue.queue_running, ...queue.queue_pending].some(([, id]) => id === promptId)
  return queued || (await pod.getHistory(promptId)) !== undefined
}
