import type { ProgressStatus, ProgressUpdate } from '../progress/ProgressUpdate.js'

const RANK: Readonly<Record<ProgressStatus, number>> = {
  queued: 0,
  processing: 1,
  completed: 2,
  failed: 2,
}

/**
 * Whether `next` replaces the saved `previous` of its prompt: never after a final update, never a
 * lower status, never less progress of the same status. The same rule as the Redis store's script,
 * so that a prompt's saved state never goes back whichever instance writes it (a restarted
 * instance re-attaching to a prompt may start from less than it had published).
 */
export function supersedes(previous: ProgressUpdate | undefined, next: ProgressUpdate): boolean {
  if (previous === undefined) return true
  const before = RANK[previous.status]
  const after = RANK[next.status]
  if (before === 2 || after < before) return false
  return after > before || next.progress >= previous.progress
}
