import type { JobProgress } from './JobEvent.js'
import { round1, summarizeNodes } from './measureProgress.js'
import type { JobState } from './reduceJob.js'

/**
 * The `progress` event of a job's state as of its last progress change, with the estimate of
 * the time left from the rate observed since the start. Built only for the events a throttle
 * lets through.
 */
export function progressEvent(state: JobState): JobProgress {
  const { progress } = state
  const elapsed = state.startedAt === undefined ? 0 : state.progressAt - state.startedAt
  return {
    type: 'progress',
    promptId: state.promptId,
    source: state.progressSource,
    progress,
    nodes: summarizeNodes(state.expected, state.nodes),
    totalValue: state.totalValue,
    totalMax: state.totalMax,
    ...(state.currentNode === undefined ? {} : { currentNode: state.currentNode }),
    ...(progress > 0 && elapsed > 0
      ? { estimatedTimeRemaining: round1((elapsed * (100 - progress)) / progress / 1000) }
      : {}),
  }
}
