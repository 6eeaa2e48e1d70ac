import { invalid } from '../internal/optionChecks.js'
import type { ProgressStore } from './ProgressStore.js'

const METHODS = ['save', 'latest', 'watch$', 'close'] as const

/** Throws the `TypeError` of a `store` option that is not a `ProgressStore`. */
export function assertProgressStore(
  store: unknown,
  name = 'store',
): asserts store is ProgressStore {
  if (
    typeof store !== 'object' ||
    store === null ||
    METHODS.some((method) => typeof (store as Record<string, unknown>)[method] !== 'function')
  )
    invalid(name, store, 'a ProgressStore')
}
