import { type Observable, type SchedulerLike, Subscription } from 'rxjs'
import { isFatalError } from '../errors/isFatalError.js'
import type { JobSocket, PodListener } from './PodListener.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { ConnectionState } from './ConnectionState.js'
import { PromptRouter } from './PromptRouter.js'

/**
 * Least time between two queue checks set off by `status`: a pod that finishes a prompt every few
 * milliseconds costs at most a few `GET /queue` a second, however many jobs wait.
 */
const QUEUE_CHECK_MS = 500

/** What a hub is made of: the pod's streams and how it retries. */
export interface MessageHubSource {
  /** The pod's messages; errors when the socket is lost, completes when the pod is closed. */
  readonly messages$: Observable<PodMessage>
  /** The socket's state, replaying the current one. */
  readonly connection$: Observable<ConnectionState>
  readonly scheduler: SchedulerLike
  /** How long after a loss the socket is tried again, while anyone is attached. */
  readonly retryMs: number
  /** How long the socket may be other than open before listeners are told it is overdue. */
  readonly graceMs: number
  /** The error of a pod that was closed. */
  closedError(): Error
}

/**
 * Where the jobs of a pod listen: one subscription to its messages and one to its state for
 * every attached job, and one timer for the socket's grace (listeners hear when the socket has
 * not been open for `graceMs`: they go on over REST meanwhile), a Map lookup per message, and one retry timer after a loss. A job holds
 * no subscription of its own, so an idle job costs a route and a Set entry. A `status` whose
 * `queue_remaining` dropped tells the jobs (leading and trailing edges, at most every
 * `QUEUE_CHECK_MS`): ComfyUI announces a deleted prompt no other way.
 */
export class MessageHub implements JobSocket {
  private readonly router = new PromptRouter()
  private readonly listeners = new Set<PodListener>()
  private state: ConnectionState | undefined
  /** The socket has not been open for `graceMs`. */
  private overdue = false
  private grace: Subscription | undefined
  private states: Subscription | undefined
  private socket: Subscription | undefined
  private retry: Subscription | undefined
  private lastFrameAt = Number.NEGATIVE_INFINITY
  /** `queue_remaining` of the last `status` on this connection. */
  private queueRemaining: number | undefined
  private queueCheck: Subscription | undefined
  private queueCheckDue = false

  constructor(private readonly source: MessageHubSource) {}

  /** Number of prompts with a route. */
  get routes(): number {
    return this.router.size
  }

  /**
   * Scheduler time of the last message the socket brought, or of the moment the hub started
   * listening if none came since (frames before it were not seen here); -Infinity before that.
   */
  lastMessageAt(): number {
    return this.lastFrameAt
  }

  /** Number of attached listeners. */
  get attached(): number {
    return this.listeners.size
  }

  attach(listener: PodListener): void {
    if (this.listeners.has(listener)) return
    this.listeners.add(listener)
    this.connect()
    // A closed pod's stream ends at once, and the listener with it.
    if (!this.listeners.has(listener)) return
    if (this.states !== undefined) {
      if (this.state !== undefined) listener.connection(this.state, this.overdue)
      return
    }
    const states = new Subscription()
    this.states = states
    states.add(
      this.source.connection$.subscribe((state) => {
        this.state = state
        this.timeGrace(state)
        for (const each of this.listeners) each.connection(state, this.overdue)
      }),
    )
    if (this.listeners.size === 0) states.unsubscribe()
  }

  detach(listener: PodListener): void {
    if (!this.listeners.delete(listener) || this.listeners.size > 0) return
    this.states?.unsubscribe()
    this.states = undefined
    this.state = undefined
    this.grace?.unsubscribe()
    this.grace = undefined
    this.overdue = false
    this.socket?.unsubscribe()
    this.socket = undefined
    this.retry?.unsubscribe()
    this.retry = undefined
    this.queueCheck?.unsubscribe()
    this.queueCheck = undefined
    this.queueCheckDue = false
  }

  route(promptId: string, listener: PodListener): void {
    this.router.register(promptId, listener)
  }

  unroute(promptId: string, listener: PodListener): void {
    this.router.unregister(promptId, listener)
  }

  /** The pod was closed: listeners waiting for a retry hear it now, not at the retry. */
  close(): void {
    if (this.retry === undefined) return
    this.retry.unsubscribe()
    this.retry = undefined
    this.lose(this.source.closedError())
  }

  private connect(): void {
    if (this.socket !== undefined || this.retry !== undefined) return
    const socket = new Subscription()
    this.socket = socket
    this.lastFrameAt = this.source.scheduler.now()
    this.queueRemaining = undefined
    socket.add(
      this.source.messages$.subscribe({
        next: (message) => {
          this.lastFrameAt = this.source.scheduler.now()
          if (message.type === 'status') this.status(message.data.status?.exec_info.queue_remaining)
          else this.router.dispatch(message)
        },
        error: (error: unknown) => this.lose(error),
        complete: () => this.lose(this.source.closedError()),
      }),
    )
  }

  /** Starts the grace when the socket leaves `open` (or is not open yet), ends it when it opens. */
  private timeGrace(state: ConnectionState): void {
    if (state.state === 'open') {
      this.grace?.unsubscribe()
      this.grace = undefined
      this.overdue = false
      return
    }
    if (this.grace !== undefined || this.overdue) return
    this.grace = this.source.scheduler.schedule(() => {
      this.grace = undefined
      this.overdue = true
      const { state } = this
      if (state !== undefined) for (const each of [...this.listeners]) each.connection(state, true)
    }, this.source.graceMs)
  }

  private status(remaining: number | undefined): void {
    const before = this.queueRemaining
    this.queueRemaining = remaining
    if (before === undefined || remaining === undefined || remaining >= before) return
    if (this.queueCheck !== undefined) this.queueCheckDue = true
    else this.queueShrank()
  }

  private queueShrank(): void {
    for (const listener of [...this.listeners]) listener.queueShrank()
    if (this.listeners.size === 0) return
    this.queueCheck = this.source.scheduler.schedule(() => {
      this.queueCheck = undefined
      if (!this.queueCheckDue) return
      this.queueCheckDue = false
      this.queueShrank()
    }, QUEUE_CHECK_MS)
  }

  private lose(error: unknown): void {
    this.socket = undefined
    for (const listener of [...this.listeners]) listener.lost(error)
    if (isFatalError(error) || this.listeners.size === 0) return
    this.retry = this.source.scheduler.schedule(() => {
      this.retry = undefined
      if (this.listeners.size > 0) this.connect()
    }, this.source.retryMs)
  }
}
