import { Redis } from 'ioredis'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CostModel, InMemoryProgressStore, shareCostModel } from '../../src/index.js'
import type { ProgressStoreDiagnostic } from '../../src/store/ProgressStore.js'
import { RedisProgressStore } from '../../src/store/index.js'
import { startRedisServer, type RedisServer } from './redisServer.js'

const decode = { classType: 'VAEDecodeTiled', seconds: 3.384, steps: 12, secondsPerStep: 0.28 }

describe('shareCostModel', () => {
  it('starts a new instance with what the fleet learnt, and saves what it learns (in memory)', async () => {
    const store = new InMemoryProgressStore()
    const first = new CostModel()
    const sharing = await shareCostModel(store, first, { key: 'cpu' })
    first.learn(decode)
    first.learn({ classType: 'SaveImage', seconds: 0.007, steps: 0 })
    const second = new CostModel()
    await shareCostModel(store, second, { key: 'cpu' })
    expect(second.costs()).toEqual(first.costs())
    expect(second.typicalSeconds('VAEDecodeTiled')).toBeCloseTo(3.384, 6)
    // Another key is another kind of pod; an unsubscribed model saves no more.
    const elsewhere = new CostModel()
    await shareCostModel(store, elsewhere, { key: 'gpu' })
    expect(elsewhere.costs()).toEqual({})
    sharing.unsubscribe()
    first.learn({ classType: 'VAELoader', seconds: 0.037, steps: 0 })
    expect(Object.keys(await store.loadCosts('cpu')).sort()).toEqual([
      'SaveImage',
      'VAEDecodeTiled',
    ])
  })

  it('throws a TypeError for a store that cannot keep costs or an empty key', async () => {
    await expect(shareCostModel({} as never, new CostModel())).rejects.toThrow(
      new TypeError('store must be a CostStore (loadCosts, saveCost), received [object Object]'),
    )
    await expect(
      shareCostModel(new InMemoryProgressStore(), new CostModel(), { key: '' }),
    ).rejects.toThrow(new TypeError('key must be a non-empty string, received ""'))
  })
})

describe('shareCostModel over Redis', () => {
  let redis: RedisServer
  const stores: RedisProgressStore[] = []
  beforeAll(async () => {
    redis = await startRedisServer()
    return () => redis.close()
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })
  const store = () => {
    const created = new RedisProgressStore(redis.url, { keyPrefix: 'costs-spec:' })
    stores.push(created)
    return created
  }

  it('shares costs between instances through one hash per key, and skips what is not a cost', async () => {
    const first = new CostModel()
    await shareCostModel(store(), first, { key: 'cpu' })
    first.learn(decode)
    const raw = new Redis(redis.url)
    try {
      for (let i = 0; i < 50 && (await raw.hlen('costs-spec:costs:cpu')) === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10))
      await raw.hset('costs-spec:costs:cpu', 'Broken', '{"secondsPerRun":-1}')
    } finally {
      raw.disconnect()
    }
    const other = store()
    const diagnostics: ProgressStoreDiagnostic[] = []
    other.diagnostics$.subscribe((diagnostic) => diagnostics.push(diagnostic))
    const second = new CostModel()
    await shareCostModel(other, second, { key: 'cpu' })
    expect(second.costs()).toEqual(first.costs())
    expect(diagnostics).toEqual([
      { type: 'invalid_data', key: 'costs-spec:costs:cpu', message: 'not a ClassCost' },
    ])
  })
})
