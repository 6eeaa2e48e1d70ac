import type { ClassCost } from '../job/ClassCost.js'

/** A `ClassCost` read back from a store, or undefined for anything else. */
export function parseClassCost(text: string): ClassCost | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { secondsPerRun, secondsPerStep, steps, runs } = value as Record<string, unknown>
  const seconds = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0
  if (!seconds(secondsPerRun) || !seconds(runs)) return undefined
  if (secondsPerStep !== undefined && !seconds(secondsPerStep)) return undefined
  if (steps !== undefined && !seconds(steps)) return undefined
  return value as ClassCost
}
