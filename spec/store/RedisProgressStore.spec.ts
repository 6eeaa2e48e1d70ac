import { Redis } from 'ioredis'
import {
  distinctUntilChanged,
  filter,
  firstValueFrom,
  lastValueFrom,
  take,
  toArray,
  VirtualTimeScheduler,
} from 'rxjs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { ComfyStoreError } from '../../src/errors/ComfyStoreError.js'
import type { ProgressStoreDiagnostic } from '../../src/store/ProgressStore.js'
import { RedisProgressStore, type RedisProgressStoreOptions } from '../../src/store/index.js'
import { done } from '../sse/jobEvents.js'
import { freePort, startRedisServer, type RedisServer } from './redisServer.js'

// Against a real redis-server started on a free port for this file; each test has its own key
// prefix.

let redis: RedisServer
let raw: Redis
let prefix = ''
let tests = 0
const stores: RedisProgressStore[] = []

beforeAll(async () => {
  redis = await startRedisServer()
  raw = new Redis(redis.url)
  // Returned rather than an afterAll: it runs only once both exist, so that a server that could
  // not start fails this file with that reason alone.
  return async () => {
    raw.disconnect()
    await redis.close()
  }
})

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
})

function newStore(options: RedisProgressStoreOptions = {}): RedisProgressStore {
  if (stores.length === 0) prefix = `test${++tests}:`
  const created = new RedisProgressStore(redis.url, {
    keyPrefix: prefix,
    redisOptions: { retryStrategy: () => 20 },
    ...options,
  })
  stores.push(created)
  return created
}

/** A store once connected: its writes are then sent at once (before, they wait silently). */
async function store(options: RedisProgressStoreOptions = {}): Promise<RedisProgressStore> {
  const created = newStore(options)
  await created.latest('-')
  return created
}

const update = (promptId: string, progress: number): ProgressUpdate => ({
  promptId,
  status: 'processing',
  progress,
})

/** The next `count` updates a watcher gets (a store may repeat one around the watch's start). */
function next(of: RedisProgressStore, promptId: string, count = 1): Promise<ProgressUpdate[]> {
  return lastValueFrom(
    of.watch$(promptId).pipe(
      distinctUntilChanged((x, y) => JSON.stringify(x) === JSON.stringify(y)),
      take(count),
      toArray(),
    ),
  )
}

function diagnostic(
  of: RedisProgressStore,
  type: ProgressStoreDiagnostic['type'],
): Promise<ProgressStoreDiagnostic> {
  return firstValueFrom(of.diagnostics$.pipe(filter((d) => d.type === type)))
}

describe('RedisProgressStore', () => {
  it("shares a prompt's latest update between instances, in a key with a TTL", async () => {
    const [a, b] = await Promise.all([store({ ttlMs: 60_000 }), store()])
    await a.save(update('p1', 40))
    expect(await b.latest('p1')).toEqual(update('p1', 40))
    expect(await b.latest('p2')).toBeUndefined()
    const ttl = await raw.pttl(`${prefix}progress:p1`)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(60_000)
  })

  it('never goes back, whichever instance writes', async () => {
    const [a, b] = await Promise.all([store(), store()])
    await a.save(update('p1', 50))
    await b.save(update('p1', 30))
    await b.save({ promptId: 'p1', status: 'queued', progress: 0 })
    expect(await a.latest('p1')).toEqual(update('p1', 50))
    await b.save({ ...update('p1', 50), estimatedTimeRemaining: 2 })
    expect(await a.latest('p1')).toEqual({ ...update('p1', 50), estimatedTimeRemaining: 2 })
    await a.save({ ...done, promptId: 'p1' })
    await b.save(update('p1', 90))
    expect(await a.latest('p1')).toMatchObject({ status: 'completed' })
  })

  it('gives a watcher the latest update at once, then live ones of its prompt only', async () => {
    const [a, b] = await Promise.all([store(), store()])
    await a.save(update('p1', 10))
    const seen = next(b, 'p1', 3)
    // The saved one arrives first: the watcher is subscribed by then.
    await next(b, 'p1')
    await a.save(update('p2', 20))
    await a.save(update('p1', 30))
    await a.save({ ...done, promptId: 'p1' })
    expect(await seen).toEqual([update('p1', 10), update('p1', 30), { ...done, promptId: 'p1' }])
  })

  it('subscribes to one channel per watched prompt, and unsubscribes after the last watcher', async () => {
    const [a, b] = await Promise.all([store(), store()])
    await a.save(update('p1', 10))
    const channel = `${prefix}updates:p1`
    const subscribers = async () => Number(((await raw.pubsub('NUMSUB', channel)) as unknown[])[1])
    const watching = [b.watch$('p1').subscribe(), b.watch$('p1').subscribe()]
    await next(b, 'p1')
    expect(await subscribers()).toBe(1)
    watching[0]!.unsubscribe()
    watching[1]!.unsubscribe()
    // UNSUBSCRIBE went on another connection than this query: ask until it has been applied.
    while ((await subscribers()) !== 0);
    expect(await raw.pubsub('CHANNELS', `${prefix}*`)).toEqual([])
  })

  it('ignores a value it did not write, with a diagnostic', async () => {
    const a = await store()
    await raw.set(`${prefix}progress:p1`, '{"not":"an update"}')
    const invalid = diagnostic(a, 'invalid_data')
    expect(await a.latest('p1')).toBeUndefined()
    expect(await invalid).toEqual({
      type: 'invalid_data',
      key: `${prefix}progress:p1`,
      message: 'not a ProgressUpdate',
    })
  })

  it('fails a read with ComfyStoreError when Redis cannot be reached within readyTimeoutMs', async () => {
    const scheduler = new VirtualTimeScheduler()
    const port = await freePort()
    const unreachable = new RedisProgressStore(`redis://127.0.0.1:${port}`, {
      readyTimeoutMs: 1_000,
      scheduler,
    })
    stores.push(unreachable)
    const read = unreachable.latest('p1')
    scheduler.flush()
    const error = await read.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ComfyStoreError)
    expect(error).toMatchObject({
      operation: 'latest',
      message: 'Redis is not reachable (not ready within 1000 ms)',
    })
  })

  it('keeps only the latest write of each prompt while Redis is down, bounded, and sends them once back', async () => {
    const [a, b] = await Promise.all([store({ maxPendingWrites: 2 }), store()])
    // Connected, then the connection lost: each write that waits is a diagnostic.
    const diagnostics: ProgressStoreDiagnostic[] = []
    a.diagnostics$.subscribe((d) => diagnostics.push(d))
    await redis.kill()
    try {
      for (const [promptId, progress] of [
        ['p1', 10],
        ['p1', 20],
        ['p2', 10],
        ['p3', 10],
      ] as const)
        await a.save(update(promptId, progress))
      // The saves did not wait for Redis; p1, the oldest waiting, made room for p3.
      expect(diagnostics.filter((d) => d.type === 'update_dropped')).toEqual([
        { type: 'update_dropped', key: 'progress:p1', promptId: 'p1' },
      ])
      expect(diagnostics.filter((d) => d.type === 'write_failed').length).toBeGreaterThanOrEqual(4)
    } finally {
      await redis.start()
    }
    // Once back, the writes waiting are sent (and published to the watchers).
    expect(await next(b, 'p3')).toEqual([update('p3', 10)])
    expect(await b.latest('p2')).toEqual(update('p2', 10))
    expect(await b.latest('p1')).toBeUndefined()
    await a.save(update('p1', 30))
    expect(await b.latest('p1')).toEqual(update('p1', 30))
  })

  it('waits for the connection with one listener however many reads wait', async () => {
    const a = await store()
    const warnings: Error[] = []
    const warned = (warning: Error) => warnings.push(warning)
    process.on('warning', warned)
    const lost = firstValueFrom(a.diagnostics$.pipe(filter((d) => d.type === 'connection_error')))
    await redis.kill()
    try {
      // Once the store knows the connection is gone, each read waits for it.
      await lost
      const reads = Array.from({ length: 20 }, (_, i) => a.latest(`p${i}`))
      await redis.start()
      expect(await Promise.allSettled(reads)).toEqual(
        Array.from({ length: 20 }, () => ({ status: 'fulfilled', value: undefined })),
      )
    } finally {
      process.off('warning', warned)
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('sends the writes made before it connected, even when closed at once', async () => {
    const a = newStore()
    void a.save(update('p1', 10))
    await a.close()
    expect(await (await store()).latest('p1')).toEqual(update('p1', 10))
  })

  it('completes its watchers and diagnostics$ when closed, after the writes under way', async () => {
    const [a, b] = await Promise.all([store(), store()])
    const watched = lastValueFrom(a.watch$('p1').pipe(toArray()))
    const diagnostics = lastValueFrom(a.diagnostics$.pipe(toArray()))
    void a.save(update('p1', 10))
    await a.close()
    expect(await watched).toEqual([])
    expect(await diagnostics).toEqual([])
    expect(await b.latest('p1')).toEqual(update('p1', 10))
    await a.save(update('p1', 20))
    expect(await lastValueFrom(a.watch$('p1').pipe(toArray()))).toEqual([])
    await expect(a.latest('p1')).rejects.toThrow(ComfyStoreError)
  })

  it('throws a TypeError for an invalid URL or option, without echoing the URL', () => {
    expect(() => new RedisProgressStore('http://user:s3cret@host:6379')).toThrow(
      new TypeError(
        'connection must be a redis:// URL or ioredis options, received "(not a redis:// URL)"',
      ),
    )
    expect(() => new RedisProgressStore(redis.url, { ttlMs: -1 })).toThrow(
      new TypeError('ttlMs must be a number > 0, received -1'),
    )
    expect(() => new RedisProgressStore(redis.url, { maxPendingWrites: 0 })).toThrow(
      new TypeError('maxPendingWrites must be an integer >= 1, received 0'),
    )
  })
})
