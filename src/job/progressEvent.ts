import type { JobProgress } from './JobEvent.js'
import { round1, summarizeNodes } from './measureProgress.js'
import type { JobState } from './JobState.js'

/**
 * The `progress` event of a job's state as of its last measure: progress by expected time, the
 * time left when it has a basis, what the running nodes are doing. Built only for the events a
 * throttle lets through.
 */
export function progressEvent(state: JobState): JobProgress {
  const { remaining, activity } = state
  return {
    type: 'progress',
    promptId: state.promptId,
    source: state.progressSource,
    progress: state.progress,
    nodes: summarizeNodes(state.expected, state.nodes),
    totalValue: state.totalValue,
    totalMax: state.totalMax,
    ...(state.currentNode === undefined ? {} : { currentNode: state.currentNode }),
    ...(remaining === undefined ? {} : { estimatedTimeRemaining: round1(remaining) }),
    ...(activity === undefined ? {} : { activity }),
  }
}
