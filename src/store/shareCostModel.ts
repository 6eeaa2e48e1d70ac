import type { Subscription } from 'rxjs'
import type { CostModel } from '../job/CostModel.js'
import { invalid } from '../internal/optionChecks.js'
import type { CostStore } from './CostStore.js'

/** Options of `shareCostModel(store, model, options)`. */
export interface ShareCostModelOptions {
  /**
   * What the costs are saved under: one key per kind of pod (the same GPU, the same models).
   * @default 'default'
   */
  readonly key?: string
}

/**
 * Shares a cost model through a store: the model first takes what the store holds (what the
 * fleet learnt; a new instance starts with it), then every cost it learns is saved for the
 * others. Unsubscribe the answer to stop saving.
 *
 * @example
 * ```ts
 * import { ComfyPod, CostModel, shareCostModel } from 'comfyui-rx'
 * import { RedisProgressStore } from 'comfyui-rx/store'
 *
 * const store = new RedisProgressStore('redis://127.0.0.1:6379')
 * const costModel = new CostModel()
 * await shareCostModel(store, costModel, { key: 'rtx-4090' })
 * const pod = new ComfyPod('http://gpu-1:8188', { costModel })
 * ```
 * @param store - `InMemoryProgressStore`, `RedisProgressStore` or any `CostStore`
 * @param model - the model to share, e.g. `pod.costModel`
 * @param options - see `ShareCostModelOptions`
 * @returns once the store's costs are in the model: the subscription that saves what it learns
 * @throws TypeError for an invalid store or key; rejects with `ComfyStoreError` when the store
 *   cannot be read
 */
export async function shareCostModel(
  store: CostStore,
  model: CostModel,
  options: ShareCostModelOptions = {},
): Promise<Subscription> {
  const { key = 'default' } = options
  if (typeof store?.loadCosts !== 'function' || typeof store.saveCost !== 'function')
    invalid('store', store, 'a CostStore (loadCosts, saveCost)')
  if (typeof key !== 'string' || key === '') invalid('key', key, 'a non-empty string')
  model.merge(await store.loadCosts(key))
  return model.learned$.subscribe(({ classType, cost }) => {
    void store.saveCost(key, classType, cost)
  })
}
