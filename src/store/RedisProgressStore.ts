import { Redis, type RedisOptions } from 'ioredis'
import {
  firstValueFrom,
  fromEvent,
  map,
  NEVER,
  type Observable,
  of,
  type SchedulerLike,
  share,
  Subject,
  takeUntil,
  timeout,
} from 'rxjs'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { ComfyStoreError } from '../errors/ComfyStoreError.js'
import { parseProgressUpdate } from '../progress/parseProgressUpdate.js'
import { describeError } from '../internal/describeError.js'
import type { ProgressStore, ProgressStoreDiagnostic } from './ProgressStore.js'
import type { ClassCost } from '../job/ClassCost.js'
import type { CostStore } from './CostStore.js'
import { parseClassCost } from './parseClassCost.js'
import {
  type RedisProgressStoreOptions,
  resolveRedisProgressStoreOptions,
} from './RedisProgressStoreOptions.js'
import { RedisProgressWatchers } from './RedisProgressWatchers.js'
import { WriteQueue } from './WriteQueue.js'

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

interface ScriptedRedis extends Redis {
  comfyuiRxSaveProgress(
    key: string,
    update: string,
    ttlMs: number,
    channel: string,
  ): Promise<number>
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
 * - Live updates come on a second connection, in subscriber mode, opened on the first watcher
 *   (`RedisProgressWatchers`).
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
 * const runner = new ComfyUIJobRunner({ pods, store })
 * // any instance: toServerSentEvents(watchProgress$(store, promptId), res)
 * ```
 */
export class RedisProgressStore implements ProgressStore, CostStore {
  readonly diagnostics$: Observable<ProgressStoreDiagnostic>

  private readonly ttlMs: number
  private readonly keyPrefix: string
  private readonly readyTimeoutMs: number
  private readonly scheduler: SchedulerLike
  private readonly redis: ScriptedRedis
  private readonly writes: WriteQueue
  private readonly watchers: RedisProgressWatchers
  // Subjects: diagnostics come from ioredis callbacks and the write queue, imperatively; close
  // must end the waits for the connection.
  private readonly diagnostics = new Subject<ProgressStoreDiagnostic>()
  private readonly closed$ = new Subject<void>()
  private closing: Promise<void> | undefined
  /** The connection's 'ready' events: one listener, however many reads wait for it. */
  private readonly readyEvents$: Observable<unknown>
  /** Whether the connection has been ready once: before, writes wait for it silently. */
  private wasReady = false

  /**
   * @param connection - `redis://[[user]:password@]host[:port][/db]`, `rediss://…`, or ioredis
   *   options (`{host, port, password, tls, …}`)
   * @param options - see `RedisProgressStoreOptions`
   * @throws TypeError for an invalid URL or option
   */
  constructor(connection: string | RedisOptions, options: RedisProgressStoreOptions = {}) {
    const { ttlMs, keyPrefix, maxPendingWrites, readyTimeoutMs, redisOptions, scheduler } =
      resolveRedisProgressStoreOptions(connection, options)
    this.ttlMs = Math.ceil(ttlMs)
    this.keyPrefix = keyPrefix
    this.readyTimeoutMs = readyTimeoutMs
    this.scheduler = scheduler
    this.diagnostics$ = this.diagnostics.asObservable()
    // replyMapping is left out: the store reads replies in their default shapes.
    const connectionOptions = withoutReplyMapping(redisOptions)
    const settings = {
      ...connectionOptions,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      scripts: {
        ...connectionOptions.scripts,
        comfyuiRxSaveProgress: { numberOfKeys: 1, lua: SAVE_PROGRESS },
      },
    }
    this.redis = (
      typeof connection === 'string'
        ? new Redis(connection, settings)
        : new Redis({ ...withoutReplyMapping(connection), ...settings })
    ) as ScriptedRedis
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
        return (
          this.redis.status !== 'ready' || /writeable|closed|aborted/i.test(describeError(error))
        )
      },
      report: (diagnostic) => this.diagnostics.next(diagnostic),
    })
    this.watchers = new RedisProgressWatchers({
      redis: this.redis,
      progressKey: (promptId) => this.progressKey(promptId),
      channel: (promptId) => this.channel(promptId),
      parse: (key, text) => this.parse(key, text),
      isClosed: () => this.closing !== undefined,
      report: (diagnostic) => this.diagnostics.next(diagnostic),
    })
    this.readyEvents$ = fromEvent(this.redis, 'ready').pipe(share())
    this.redis.on('error', (error: unknown) => this.connectionError(error))
    this.redis.on('ready', () => {
      this.wasReady = true
      this.writes.resume()
      this.watchers.commandsReady()
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
    return this.watchers.watch$(promptId)
  }

  /** The costs under a key: one hash, a field per class (no TTL: what a fleet learnt stays). */
  async loadCosts(key: string): Promise<Record<string, ClassCost>> {
    await this.whenReady('loadCosts')
    const hash = this.costsKey(key)
    let fields: Record<string, string>
    try {
      fields = await this.redis.hgetall(hash)
    } catch (error) {
      throw new ComfyStoreError(`could not read the costs of ${key}`, 'loadCosts', { cause: error })
    }
    const costs: Record<string, ClassCost> = {}
    for (const [classType, text] of Object.entries(fields)) {
      const cost = parseClassCost(text)
      if (cost === undefined)
        this.diagnostics.next({ type: 'invalid_data', key: hash, message: 'not a ClassCost' })
      else costs[classType] = cost
    }
    return costs
  }

  saveCost(key: string, classType: string, cost: ClassCost): Promise<void> {
    if (this.closing !== undefined) return Promise.resolve()
    const json = JSON.stringify(cost)
    return this.writes.enqueue({
      key: `costs:${key}:${classType}`,
      run: () => this.redis.hset(this.costsKey(key), classType, json),
    })
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed$.next()
      this.closed$.complete()
      this.watchers.complete()
      // Writes waiting for the connection are sent if it comes within readyTimeoutMs (its
      // 'ready' resumes them).
      if (this.writes.isWaiting) await this.ready()
      await this.writes.drain()
      this.diagnostics.complete()
      const subscriber = this.watchers.connection
      await Promise.all([quit(this.redis), subscriber && quit(subscriber)])
    })()
    return this.closing
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
      this.readyEvents$.pipe(
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

  private connectionError(error: unknown): void {
    this.diagnostics.next({
      type: 'connection_error',
      connection: 'commands',
      message: describeError(error),
    })
  }

  private progressKey(promptId: string): string {
    return `${this.keyPrefix}progress:${promptId}`
  }

  private costsKey(key: string): string {
    return `${this.keyPrefix}costs:${key}`
  }

  private channel(promptId: string): string {
    return `${this.keyPrefix}updates:${promptId}`
  }
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

function withoutReplyMapping(options: RedisOptions): Omit<RedisOptions, 'replyMapping'> {
  const settings: RedisOptions = { ...options }
  delete settings.replyMapping
  return settings
}
