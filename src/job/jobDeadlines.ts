import type { JobSettings } from './JobSettings.js'
import type { JobState } from './JobState.js'
import { onGrid } from './RestRounds.js'

/** When the whole job's time is up (`timeoutMs` after it was submitted). */
export function deadlineAt(state: JobState, settings: JobSettings): number {
  return state.submittedAt + settings.timeoutMs
}

/** When its wait in the queue is up (`queueTimeoutMs`); never once the prompt started. */
export function queueDeadlineAt(state: JobState, settings: JobSettings): number {
  return state.startedAt === undefined
    ? state.submittedAt + settings.queueTimeoutMs
    : Number.POSITIVE_INFINITY
}

/**
 * When the watchdog looks next: `stallTimeoutMs` after the last word or look, rounded up to a
 * tenth of it on the pod-wide grid, so that the idle jobs of a pod look together and share
 * their `GET /queue`.
 */
export function silenceCheckAt(lastWordOrLookAt: number, stallTimeoutMs: number): number {
  return onGrid(lastWordOrLookAt + stallTimeoutMs, stallTimeoutMs / 10)
}

/** The shortest interval between two measures of a running job's progress by time alone. */
const SHORTEST_TICK_MS = 250

/**
 * When a running job followed over the socket measures its progress again though no message
 * came: `progressThrottleMs` (at least 250 ms) after its last measure, so that a node loading
 * moves the bar. Never while queued, over REST, or done.
 */
export function progressTickAt(state: JobState, settings: JobSettings): number {
  if (state.phase !== 'running' || state.measuredAt === undefined) return Number.POSITIVE_INFINITY
  return state.measuredAt + Math.max(settings.progressThrottleMs, SHORTEST_TICK_MS)
}
