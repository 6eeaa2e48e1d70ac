import type { JobProgress } from './JobEvent.js'
import { round1, summarizeNodes } from './measureProgress.js'
import type { JobState } from './JobState.js'

/**
 * The `progress` event of a job's state as of its last progress change, with the estimate of
 * the time left from the rate observed since the first step message: none until the job has a
 * rate to go on (a second step that moved the bar), so nodes that finished in milliseconds
 * before the first step never make the estimate a fraction of a second. Built only for the
 * events a throttle lets through.
 */
export function progressEvent(state: JobState): JobProgress {
  const { progress, rateFromAt } = state
  const gained = progress - state.rateFromProgress
  const elapsed = rateFromAt === undefined ? 0 : state.progressAt - rateFromAt
  return {
    type: 'progress',
    promptId: state.promptId,
    source: state.progressSource,
    progress,
    nodes: summarizeNodes(state.expected, state.nodes),
    totalValue: state.totalValue,
    totalMax: state.totalMax,
    ...(state.currentNode === undefined ? {} : { currentNode: state.currentNode }),
    ...(gained > 0 && elapsed > 0
      ? { estimatedTimeRemaining: round1((elapsed * (100 - progress)) / gained / 1000) }
      : {}),
  }
}
