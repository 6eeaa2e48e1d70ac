import type { Redis } from 'ioredis'
import { ComfyStoreError } from '../errors/ComfyStoreError.js'
import type { InFlightJob, InstanceState, ProgressStoreDiagnostic } from './ProgressStore.js'
import type { WriteQueue } from './WriteQueue.js'

// Sets a field of a hash and renews the hash's TTL in one step: a hash never outlives its TTL
// after its last change, whatever happens between two commands.
const SET_FIELD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

interface JournalRedis extends Redis {
  comfyuiRxSetField(key: string, field: string, value: string, ttlMs: number): Promise<number>
}

/** What the journal shares with the store it belongs to. */
export interface RedisInstanceJournalContext {
  /** The store's commands connection; the journal defines its script on it. */
  readonly redis: Redis
  /** The store's writes: bounded, the latest of each key kept while Redis is down. */
  readonly writes: WriteQueue
  /** Prefix of every key. */
  readonly keyPrefix: string
  /** How long an instance's hashes are kept after their last change. */
  readonly ttlMs: number
  /**
   * Resolves once the connection is ready; rejects with `ComfyStoreError` when the store is
   * closed or Redis is not reachable in time.
   */
  readonly whenReady: (operation: string) => Promise<void>
  /** Whether the store is closed (or closing): writes are ignored then. */
  readonly isClosed: () => boolean
  readonly report: (diagnostic: ProgressStoreDiagnostic) => void
}

/**
 * The instance journal of a `RedisProgressStore`: what each backend instance needs to resume its
 * jobs after a restart (`ComfyUIJobRunner.recover`) — its pods' clientIds and its jobs in flight —
 * as two hashes per instance, each with a TTL renewed by every write to it, so that an instance
 * that never comes back is forgotten. It writes through the store's connection and write queue,
 * so Redis being down affects it as it does progress: writes wait, bounded, and failures are the
 * store's diagnostics.
 */
export class RedisInstanceJournal {
  private readonly redis: JournalRedis

  constructor(private readonly context: RedisInstanceJournalContext) {
    const { redis } = context
    redis.defineCommand('comfyuiRxSetField', { numberOfKeys: 1, lua: SET_FIELD })
    this.redis = redis as JournalRedis
  }

  /** See `ProgressStore.instanceState`. */
  async instanceState(instanceId: string): Promise<InstanceState> {
    await this.context.whenReady('instanceState')
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
          this.context.report({ type: 'invalid_data', key: jobsKey, message: 'not a job' })
        return job === undefined ? [] : [job]
      }),
    }
  }

  /** See `ProgressStore.saveClientIds`. */
  saveClientIds(instanceId: string, clientIds: Readonly<Record<string, string>>): Promise<void> {
    const { isClosed, writes, ttlMs } = this.context
    if (isClosed()) return Promise.resolve()
    const key = this.clientIdsKey(instanceId)
    return Promise.all(
      Object.entries(clientIds).map(([url, clientId]) =>
        writes.enqueue({
          key: `clientId:${instanceId}:${url}`,
          run: () => this.redis.comfyuiRxSetField(key, url, clientId, ttlMs),
        }),
      ),
    ).then(() => undefined)
  }

  /** See `ProgressStore.addJob`. */
  addJob(instanceId: string, job: InFlightJob): Promise<void> {
    const { isClosed, writes, ttlMs } = this.context
    if (isClosed()) return Promise.resolve()
    const { promptId, podUrl, clientId } = job
    const json = JSON.stringify({ promptId, podUrl, clientId })
    return writes.enqueue({
      key: `job:${instanceId}:${promptId}`,
      promptId,
      run: () => this.redis.comfyuiRxSetField(this.jobsKey(instanceId), promptId, json, ttlMs),
    })
  }

  /** See `ProgressStore.removeJob`. */
  removeJob(instanceId: string, promptId: string): Promise<void> {
    const { isClosed, writes } = this.context
    if (isClosed()) return Promise.resolve()
    return writes.enqueue({
      key: `job:${instanceId}:${promptId}`,
      promptId,
      run: () => this.redis.hdel(this.jobsKey(instanceId), promptId),
    })
  }

  private clientIdsKey(instanceId: string): string {
    return `${this.context.keyPrefix}instance:${instanceId}:clientIds`
  }

  private jobsKey(instanceId: string): string {
    return `${this.context.keyPrefix}instance:${instanceId}:jobs`
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
