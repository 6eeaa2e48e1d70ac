import { Redis, type RedisOptions } from 'ioredis'
import {
  asyncScheduler,
  firstValueFrom,
  fromEvent,
  map,
  NEVER,
  Observable,
  of,
  type SchedulerLike,
  Subject,
  type Subscriber,
  takeUntil,
  timeout,
} from 'rxjs'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { ComfyStoreError } from '../errors/ComfyStoreError.js'
import { parseProgressUpdate } from '../progress/parseProgressUpdate.js'
import type {
  InFlightJob,
  InstanceState,
  ProgressStore,
  ProgressStoreDiagnostic,
} from './ProgressStore.js'
import { WriteQueue } from './WriteQueue.js'

/** Options of `new RedisProgressStore(url, options)`. */
export interface RedisProgressStoreOptions {
  /**
   * How long a prompt's latest update is kept after its last change (the key's TTL, renewed by
   * each update): long enough for a browser to come back to a finished job, short enough that
   * Redis forgets old prompts by itself.
   * @default 3600000 (1 hour)
   */
  readonly ttlMs?: number
  /**
   * How long an instance's clientIds and jobs in flight are kept after their last change: an
   * instance that never comes back is forgotten after it.
   * @default 604800000 (7 days)
   */
  readonly instanceTtlMs?: number
  /**
   * Prefix of every key and channel, to share a Redis with other programs.
   * @default 'comfyui-rx:'
   */
  readonly keyPrefix?: string
  /**
   * Writes that may wait (for the one of their key under way, or for the reconnection while Redis
   * is down): at most one per key, the latest. Beyond, the oldest is dropped with a diagnostic.
   * @default 10000
   */
  readonly maxPendingWrites?: number
  /**
   * How long a read (`latest`, `instanceState`) waits for the connection before it fails with
   * `ComfyStoreError`; a store just created, or reconnecting, is not ready at once.
   * @default 5000
   */
  readonly readyTimeoutMs?: number
  /**
   * ioredis options (TLS, password, `retryStrategy`, `connectTimeout`, …). The store sets
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands:
   * false` over them: commands fail at once while Redis is down instead of piling up in ioredis,
   * and the store keeps, bounded, what is worth writing later. `replyMapping` is ignored.
   * @default {}
   */
  readonly redisOptions?: RedisOptions
  /**
   * Scheduler of the wait for the connection.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

// Saves an update unless the saved one is newer (the rule of `supersedes`), and publishes it, in
// one atomic step: a watcher that subscribed, then read the key, misses nothing between the two.
const SAVE_PROGRESS = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return 0 end
if current then
  local ok, previous = pcall(cjson.decode, current)
  if ok and type(previous) == 'table' then
    local rank = { queued = 0, processing = 1, completed = 2, failed = 2 }
    local update = cjson.decode(ARGV[1])
    local before = rank[previous.status]
    local after = rank[update.status]
    if before ~= nil and after ~= nil then
      if before == 2 or after < before then return 0 end
      if after == before and (tonumber(update.progress) or 0) < (tonumber(previous.progress) or 0) then
        return 0
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
`

const SET_FIELD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

interface ScriptedRedis extends Redis {
  comfyuiRxSaveProgress(
    key: string,
    update: string,
    ttlMs: number,
    channel: string,
  ): Promise<number>
  comfyuiRxSetField(key: string, field: string, value: string, ttlMs: number): Promise<number>
}

/**
 * A `ProgressStore` in Redis, through ioredis, shared by every instance of a backend: the
 * instance that runs a job publishes its progress, any instance serves it.
 *
 * - The latest update of a prompt is a string key with a TTL (`ttlMs`, renewed by each update);
 *   an update is saved and published in one Lua script that refuses to go back.
 * - Every update is published on a channel of its prompt. A channel per prompt rather than a few
 *   shared ones: an instance receives only the prompts its clients watch, where a sharded channel
 *   would make it receive and decode every update of its shards; Redis keeps channels in a hash
 *   table, so a SUBSCRIBE per watched prompt costs little, and nothing is left behind when the
 *   last watcher goes (UNSUBSCRIBE).
 * - Live updates come on a second connection, in subscriber mode, opened on the first watcher.
 * - An instance's clientIds and jobs in flight are two hashes, with their own TTL.
 *
 * When Redis is down, jobs are not affected: commands fail at once (no ioredis offline queue),
 * each key keeps only its latest write until the reconnection (`maxPendingWrites` at most), and
 * every failure is a diagnostic. ioredis reconnects by itself; the writes waiting are then sent,
 * and the watchers subscribe again and read the latest state they missed.
 *
 * In the `comfyui-rx/store` entry point, so that ioredis stays an optional peer dependency.
 *
 * @example
 * ```ts
 * import { ComfyUIJobRunner, toServerSentEvents, watchProgress$ } from 'comfyui-rx'
 * import { RedisProgressStore } from 'comfyui-rx/store'
 *
 * const store = new RedisProgressStore('redis://127.0.0.1:6379', { ttlMs: 3_600_000 })
 * store.diagnostics$.subscribe((diagnostic) => console.warn(diagnostic.type))
 * const runner = await ComfyUIJobRunner.recover({ pods, store, instanceId: process.env.HOSTNAME! })
 * // any instance: toServerSentEvents(watchProgress$(store, promptId), res)
 * ```
 */
export class RedisProgressStore implements ProgressStore {
  readonly diagnostics$: Observable<ProgressStoreDiagnostic>

  private readonly ttlMs: number
  private readonly instanceTtlMs: number
  private readonly keyPrefix: string
  private readonly readyTimeoutMs: number
  private readonly scheduler: SchedulerLike
  private readonly redis: ScriptedRedis
  private subscriber: Redis | undefined
  private readonly writes: WriteQueue
  private readonly watchers = new Map<string, Set<Subscriber<ProgressUpdate>>>()
  // Subjects: diagnostics come from ioredis callbacks and the write queue, imperatively; close
  // must end the waits for the connection.
  private readonly diagnostics = new Subject<ProgressStoreDiagnostic>()
  private readonly closed$ = new Subject<void>()
  private closing: Promise<void> | undefined
  /** Whether the connection has been ready once: before, writes wait for it silently. */
  private wasReady = false

  /**
   * @param url - `redis://[[user]:password@]host[:port][/db]` or `rediss://…`
   * @param options - see `RedisProgressStoreOptions`
   * @throws TypeError for an invalid URL or option
   */
  constructor(url: string, options: RedisProgressStoreOptions = {}) {
    const {
      ttlMs = 3_600_000,
      instanceTtlMs = 604_800_000,
      keyPrefix = 'comfyui-rx:',
      maxPendingWrites = 10_000,
      readyTimeoutMs = 5_000,
      redisOptions = {},
      scheduler = asyncScheduler,
    } = options
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
      invalid('url', typeof url === 'string' ? '(not a redis:// URL)' : url, 'a redis:// URL')
    positive('ttlMs', ttlMs)
    positive('instanceTtlMs', instanceTtlMs)
    if (typeof keyPrefix !== 'string') invalid('keyPrefix', keyPrefix, 'a string')
    if (!Number.isInteger(maxPendingWrites) || maxPendingWrites < 1)
      invalid('maxPendingWrites', maxPendingWrites, 'an integer >= 1')
    positive('readyTimeoutMs', readyTimeoutMs)
    if (typeof redisOptions !== 'object' || redisOptions === null)
      invalid('redisOptions', redisOptions, 'an object')
    this.ttlMs = Math.ceil(ttlMs)
    this.instanceTtlMs = Math.ceil(instanceTtlMs)
    this.keyPrefix = keyPrefix
    this.readyTimeoutMs = readyTimeoutMs
    this.scheduler = scheduler
    this.diagnostics$ = this.diagnostics.asObservable()
    // replyMapping is left out: the store reads replies in their default shapes.
    const connectionOptions: Omit<RedisOptions, 'replyMapping'> = { ...redisOptions }
    delete (connectionOptions as RedisOptions).replyMapping
    this.redis = new Redis(url, {
      ...connectionOptions,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      scripts: {
        ...connectionOptions.scripts,
        comfyuiRxSaveProgress: { numberOfKeys: 1, lua: SAVE_PROGRESS },
        comfyuiRxSetField: { numberOfKeys: 1, lua: SET_FIELD },
      },
    }) as ScriptedRedis
    this.writes = new WriteQueue({
      maxWaiting: maxPendingWrites,
      isReady: () => this.redis.status === 'ready',
      isLost: () => this.wasReady && this.redis.status !== 'ready',
      isConnectionError: (error) => {
        // Redis answered with an error (a ReplyError): writing again would not help.
        if (error instanceof Error && error.name === 'ReplyError') return false
        // ioredis may not have noticed the loss yet ("Stream isn't writeable", "Connection is
        // closed", "Command aborted"); anything else with the connection up (a commandTimeout of
        // the user's) is not a reason to hold every write until the next reconnection.
        return this.redis.status !== 'ready' || /writeable|closed|aborted/i.test(messageOf(error))
      },
      report: (diagnostic) => this.diagnostics.next(diagnostic),
    })
    this.redis.on('error', (error: unknown) => this.connectionError('commands', error))
    this.redis.on('ready', () => {
      this.wasReady = true
      this.writes.resume()
      // Updates published while the subscriber was connected but these commands were not are
      // already delivered; those saved meanwhile are read now.
      if (this.subscriber?.status === 'ready') this.readAll()
    })
  }

  save(update: ProgressUpdate): Promise<void> {
    if (this.closing !== undefined) return Promise.resolve()
    const { promptId } = update
    const json = JSON.stringify(update)
    return this.writes.enqueue({
      key: `progress:${promptId}`,
      promptId,
      run: () =>
        this.redis.comfyuiRxSaveProgress(
          this.progressKey(promptId),
          json,
          this.ttlMs,
          this.channel(promptId),
        ),
    })
  }

  async latest(promptId: string): Promise<ProgressUpdate | undefined> {
    await this.whenReady('latest')
    const key = this.progressKey(promptId)
    let text: string | null
    try {
      text = await this.redis.get(key)
    } catch (error) {
      throw new ComfyStoreError(`could not read the progress of ${promptId}`, 'latest', {
        cause: error,
      })
    }
    return text === null ? undefined : this.parse(key, text)
  }

  watch$(promptId: string): Observable<ProgressUpdate> {
    return new Observable<ProgressUpdate>((subscriber) => {
      if (this.closing !== undefined) return subscriber.complete()
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
          this.subscriber.unsubscribe(this.channel(promptId)).catch(() => {})
      }
    })
  }

  async instanceState(instanceId: string): Promise<InstanceState> {
    await this.whenReady('instanceState')
    const jobsKey = this.jobsKey(instanceId)
    let clientIds: Record<string, string>
    let jobs: Record<string, string>
    try {
      ;[clientIds, jobs] = await Promise.all([
        this.redis.hgetall(this.clientIdsKey(instanceId)),
        this.redis.hgetall(jobsKey),
      ])
    } catch (error) {
      throw new ComfyStoreError(
        `could not read the state of instance ${instanceId}`,
        'instanceState',
        {
          cause: error,
        },
      )
    }
    return {
      clientIds: { ...clientIds },
      jobs: Object.values(jobs).flatMap((text) => {
        const job = parseJob(text)
        if (job === undefined)
          this.diagnostics.next({ type: 'invalid_data', key: jobsKey, message: 'not a job' })
        return job === undefined ? [] : [job]
      }),
    }
  }

  saveClientIds(instanceId: string, clientIds: Readonly<Record<string, string>>): Promise<void> {
    if (this.closing !== undefined) return Promise.resolve()
    const key = this.clientIdsKey(instanceId)
    return Promise.all(
      Object.entries(clientIds).map(([url, clientId]) =>
        this.writes.enqueue({
          key: `clientId:${instanceId}:${url}`,
          run: () => this.redis.comfyuiRxSetField(key, url, clientId, this.instanceTtlMs),
        }),
      ),
    ).then(() => undefined)
  }

  addJob(instanceId: string, job: InFlightJob): Promise<void> {
    if (this.closing !== undefined) return Promise.resolve()
    const { promptId, podUrl, clientId } = job
    const json = JSON.stringify({ promptId, podUrl, clientId })
    return this.writes.enqueue({
      key: `job:${instanceId}:${promptId}`,
      promptId,
      run: () =>
        this.redis.comfyuiRxSetField(this.jobsKey(instanceId), promptId, json, this.instanceTtlMs),
    })
  }

  removeJob(instanceId: string, promptId: string): Promise<void> {
    if (this.closing !== undefined) return Promise.resolve()
    return this.writes.enqueue({
      key: `job:${instanceId}:${promptId}`,
      promptId,
      run: () => this.redis.hdel(this.jobsKey(instanceId), promptId),
    })
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed$.next()
      this.closed$.complete()
      const watchers = [...this.watchers.values()].flatMap((set) => [...set])
      this.watchers.clear()
      for (const watcher of watchers) watcher.complete()
      // Writes waiting for the connection are sent if it comes within readyTimeoutMs (its
      // 'ready' resumes them).
      if (this.writes.isWaiting) await this.ready()
      await this.writes.drain()
      this.diagnostics.complete()
      await Promise.all([quit(this.redis), this.subscriber && quit(this.subscriber)])
    })()
    return this.closing
  }

  /** Subscribes to the prompt's channel, then reads its latest update for the new watcher. */
  private async attach(promptId: string, watcher: Subscriber<ProgressUpdate>): Promise<void> {
    const subscriber = this.subscriberConnection()
    // Not connected yet, or reconnecting: its 'ready' subscribes to every watched prompt.
    if (subscriber.status !== 'ready') return
    try {
      await subscriber.subscribe(this.channel(promptId))
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
    subscriber.subscribe(...promptIds.map((promptId) => this.channel(promptId))).then(
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
    // Not connected: its 'ready' reads for every watched prompt.
    if (this.redis.status !== 'ready') return
    const key = this.progressKey(promptId)
    let text: string | null
    try {
      text = await this.redis.get(key)
    } catch (error) {
      if (this.redis.status === 'ready') this.readFailed(promptId, error)
      return
    }
    const update = text === null ? undefined : this.parse(key, text)
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
    // Its channels are subscribed again by the store on 'ready', not by ioredis: ioredis would
    // also subscribe again to the channels whose watchers left while it was down.
    const subscriber = this.redis.duplicate({ autoResubscribe: false })
    const channelPrefix = this.channel('')
    subscriber.on('error', (error: unknown) => this.connectionError('subscriber', error))
    subscriber.on('ready', () => this.resubscribe())
    subscriber.on('message', (channel: string, message: string) => {
      if (!channel.startsWith(channelPrefix)) return
      const update = this.parse(channel, message)
      if (update !== undefined) this.deliver(channel.slice(channelPrefix.length), update)
    })
    this.subscriber = subscriber
    return subscriber
  }

  /** Resolves once the commands connection is ready, or fails after `readyTimeoutMs`. */
  private async whenReady(operation: string): Promise<void> {
    const closed = () => new ComfyStoreError('the store is closed', operation)
    if (this.closing !== undefined) throw closed()
    if (await this.ready(this.closed$)) return
    throw this.closing !== undefined
      ? closed()
      : new ComfyStoreError(
          `Redis is not reachable (not ready within ${this.readyTimeoutMs} ms)`,
          operation,
        )
  }

  /** Whether the commands connection is ready, or gets ready within `readyTimeoutMs`. */
  private ready(until$: Observable<unknown> = NEVER): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true)
    return firstValueFrom(
      fromEvent(this.redis, 'ready').pipe(
        map(() => true),
        takeUntil(until$),
        timeout({ first: this.readyTimeoutMs, scheduler: this.scheduler, with: () => of(false) }),
      ),
      { defaultValue: false },
    )
  }

  private parse(key: string, text: string): ProgressUpdate | undefined {
    const update = parseProgressUpdate(text)
    if (update === undefined)
      this.diagnostics.next({ type: 'invalid_data', key, message: 'not a ProgressUpdate' })
    return update
  }

  private readFailed(promptId: string, error: unknown): void {
    this.diagnostics.next({ type: 'read_failed', promptId, message: messageOf(error) })
  }

  private connectionError(connection: 'commands' | 'subscriber', error: unknown): void {
    this.diagnostics.next({ type: 'connection_error', connection, message: messageOf(error) })
  }

  private progressKey(promptId: string): string {
    return `${this.keyPrefix}progress:${promptId}`
  }

  private channel(promptId: string): string {
    return `${this.keyPrefix}updates:${promptId}`
  }

  private clientIdsKey(instanceId: string): string {
    return `${this.keyPrefix}instance:${instanceId}:clientIds`
  }

  private jobsKey(instanceId: string): string {
    return `${this.keyPrefix}instance:${instanceId}:jobs`
  }
}

function parseJob(text: string): InFlightJob | undefined {
  try {
    const { promptId, podUrl, clientId } = JSON.parse(text) as Record<string, unknown>
    if (typeof promptId !== 'string' || typeof podUrl !== 'string' || typeof clientId !== 'string')
      return undefined
    return { promptId, podUrl, clientId }
  } catch {
    return undefined
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Ends a connection: politely when it is up, at once otherwise (QUIT would not be sent). */
async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit()
      return
    } catch {
      // Lost meanwhile: disconnect below.
    }
  }
  redis.disconnect()
}
