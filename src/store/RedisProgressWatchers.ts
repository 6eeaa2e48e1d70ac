import type { Redis } from 'ioredis'
import { Observable, type Subscriber } from 'rxjs'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { describeError } from '../internal/describeError.js'
import type { ProgressStoreDiagnostic } from './ProgressStore.js'

/** What the watchers share with the store they belong to. */
export interface RedisProgressWatchersContext {
  /** The store's commands connection: the reads, and the model of the subscriber connection. */
  readonly redis: Redis
  readonly progressKey: (promptId: string) => string
  readonly channel: (promptId: string) => string
  /** Parses a saved or published update; reports what is not one. */
  readonly parse: (key: string, text: string) => ProgressUpdate | undefined
  /** Whether the store is closed (or closing): a new watcher then completes at once. */
  readonly isClosed: () => boolean
  readonly report: (diagnostic: ProgressStoreDiagnostic) => void
}

/**
 * The watchers of a `RedisProgressStore` and their live updates: a channel per watched prompt,
 * subscribed on a second connection, in subscriber mode, opened for the first watcher, and
 * unsubscribed when the prompt's last watcher goes. A new watcher reads the prompt's saved update
 * once subscribed, and every watcher does after a reconnection, so that none misses what was
 * published while it was not subscribed.
 */
export class RedisProgressWatchers {
  private readonly watchers = new Map<string, Set<Subscriber<ProgressUpdate>>>()
  private subscriber: Redis | undefined

  constructor(private readonly context: RedisProgressWatchersContext) {}

  /** The connection in subscriber mode, once opened. */
  get connection(): Redis | undefined {
    return this.subscriber
  }

  /** See `ProgressStore.watch$`. */
  watch$(promptId: string): Observable<ProgressUpdate> {
    return new Observable<ProgressUpdate>((subscriber) => {
      if (this.context.isClosed()) return subscriber.complete()
      let watchers = this.watchers.get(promptId)
      if (watchers === undefined) this.watchers.set(promptId, (watchers = new Set()))
      watchers.add(subscriber)
      void this.attach(promptId, subscriber)
      return () => {
        watchers.delete(subscriber)
        if (watchers.size > 0 || this.watchers.get(promptId) !== watchers) return
        this.watchers.delete(promptId)
        // Sent after any SUBSCRIBE of the channel, on the same connection: the last one wins. When
        // not connected, the channel is simply not subscribed again on reconnection.
        if (this.subscriber?.status === 'ready')
          this.subscriber.unsubscribe(this.context.channel(promptId)).catch(() => {})
      }
    })
  }

  /**
   * The commands connection is ready again. Updates published while the subscriber was connected
   * but the commands were not are already delivered; those saved meanwhile are read now.
   */
  commandsReady(): void {
    if (this.subscriber?.status === 'ready') this.readAll()
  }

  /** Completes every watcher. */
  complete(): void {
    const watchers = [...this.watchers.values()].flatMap((set) => [...set])
    this.watchers.clear()
    for (const watcher of watchers) watcher.complete()
  }

  /** Subscribes to the prompt's channel, then reads its latest update for the new watcher. */
  private async attach(promptId: string, watcher: Subscriber<ProgressUpdate>): Promise<void> {
    const subscriber = this.subscriberConnection()
    // Not connected yet, or reconnecting: its 'ready' subscribes to every watched prompt.
    if (subscriber.status !== 'ready') return
    try {
      await subscriber.subscribe(this.context.channel(promptId))
    } catch (error) {
      if (subscriber.status === 'ready') this.readFailed(promptId, error)
      return
    }
    await this.read(promptId, [watcher])
  }

  /** Subscribes again to every watched prompt, then reads what was missed. */
  private resubscribe(): void {
    const subscriber = this.subscriber
    const promptIds = [...this.watchers.keys()]
    if (subscriber === undefined || promptIds.length === 0) return
    subscriber.subscribe(...promptIds.map((promptId) => this.context.channel(promptId))).then(
      () => this.readAll(),
      (error: unknown) => {
        if (subscriber.status === 'ready') this.readFailed(promptIds[0]!, error)
      },
    )
  }

  private readAll(): void {
    for (const promptId of this.watchers.keys()) void this.read(promptId)
  }

  /** Gives the prompt's saved update to its watchers (or to `only`). */
  private async read(
    promptId: string,
    only?: readonly Subscriber<ProgressUpdate>[],
  ): Promise<void> {
    const { redis, progressKey, parse } = this.context
    // Not connected: its 'ready' reads for every watched prompt.
    if (redis.status !== 'ready') return
    const key = progressKey(promptId)
    let text: string | null
    try {
      text = await redis.get(key)
    } catch (error) {
      if (redis.status === 'ready') this.readFailed(promptId, error)
      return
    }
    const update = text === null ? undefined : parse(key, text)
    if (update !== undefined) this.deliver(promptId, update, only)
  }

  private deliver(
    promptId: string,
    update: ProgressUpdate,
    only?: readonly Subscriber<ProgressUpdate>[],
  ): void {
    const watchers = [...(only ?? this.watchers.get(promptId) ?? [])]
    for (const watcher of watchers) if (!watcher.closed) watcher.next(update)
  }

  /** The connection in subscriber mode, opened for the first watcher. */
  private subscriberConnection(): Redis {
    if (this.subscriber !== undefined) return this.subscriber
    const { redis, parse, report } = this.context
    // Its channels are subscribed again here on 'ready', not by ioredis: ioredis would also
    // subscribe again to the channels whose watchers left while it was down.
    const subscriber = redis.duplicate({ autoResubscribe: false })
    const channelPrefix = this.context.channel('')
    subscriber.on('error', (error: unknown) =>
      report({ type: 'connection_error', connection: 'subscriber', message: describeError(error) }),
    )
    subscriber.on('ready', () => this.resubscribe())
    subscriber.on('message', (channel: string, message: string) => {
      if (!channel.startsWith(channelPrefix)) return
      const update = parse(channel, message)
      if (update !== undefined) this.deliver(channel.slice(channelPrefix.length), update)
    })
    this.subscriber = subscriber
    return subscriber
  }

  private readFailed(promptId: string, error: unknown): void {
    this.context.report({ type: 'read_failed', promptId, message: describeError(error) })
  }
}
