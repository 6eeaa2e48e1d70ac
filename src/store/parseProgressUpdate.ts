import type { ProgressStatus, ProgressUpdate } from '../sse/ProgressUpdate.js'

const STATUSES: ReadonlySet<unknown> = new Set<ProgressStatus>([
  'queued',
  'processing',
  'completed',
  'failed',
])

/**
 * A `ProgressUpdate` read back from a store, or undefined for anything else (another program's
 * data under the same key, a truncated value): stored data is checked, never trusted.
 */
export function parseProgressUpdate(text: string): ProgressUpdate | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { promptId, status, progress } = value as Record<string, unknown>
  if (typeof promptId !== 'string' || promptId === '') return undefined
  if (!STATUSES.has(status)) return undefined
  if (typeof progress !== 'number' || !Number.isFinite(progress)) return undefined
  return value as ProgressUpdate
}
