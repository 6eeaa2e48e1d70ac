import type { ProgressStatus, ProgressUpdate } from './ProgressUpdate.js'

/** Every status, in the order a job goes through them. */
export const PROGRESS_STATUSES: readonly ProgressStatus[] = [
  'queued',
  'processing',
  'completed',
  'failed',
]
const STATUSES: ReadonlySet<unknown> = new Set(PROGRESS_STATUSES)
const ACTIVITIES: ReadonlySet<unknown> = new Set([undefined, 'loading', 'stepping'])

/**
 * A `ProgressUpdate` read back from a store or an event stream, or undefined for anything else
 * (another program's data under the same key, a truncated value): such data is checked, never
 * trusted. Browser-safe.
 */
export function parseProgressUpdate(text: unknown): ProgressUpdate | undefined {
  if (typeof text !== 'string') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { promptId, status, progress, activity } = value as Record<string, unknown>
  if (typeof promptId !== 'string' || promptId === '') return undefined
  if (!STATUSES.has(status)) return undefined
  if (typeof progress !== 'number' || !Number.isFinite(progress)) return undefined
  // An activity this version does not know (a newer writer's) is left out, not trusted.
  if (!ACTIVITIES.has(activity)) {
    const known = { ...(value as ProgressUpdate) }
    delete (known as { activity?: unknown }).activity
    return known
  }
  return value as ProgressUpdate
}
