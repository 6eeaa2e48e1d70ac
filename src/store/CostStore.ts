import type { ClassCost } from '../job/ClassCost.js'

/**
 * Where instances share what their pods' cost models learnt (`shareCostModel`), under a key of
 * their choosing (pods of the same hardware share one). `InMemoryProgressStore` and
 * `RedisProgressStore` are both one.
 */
export interface CostStore {
  /**
   * The costs saved under a key, by class type.
   *
   * @returns the costs, empty for an unknown key; rejects with `ComfyStoreError` when the store
   *   cannot be read
   */
  loadCosts(key: string): Promise<Record<string, ClassCost>>
  /** Saves the cost of one class under a key; never rejects (see `diagnostics$`). */
  saveCost(key: string, classType: string, cost: ClassCost): Promise<void>
}
