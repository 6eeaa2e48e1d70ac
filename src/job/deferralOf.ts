import type { PodMessage } from '../protocol/decodeFrame.js'
import type { JobState } from './JobState.js'
import type { NodeState } from './measureProgress.js'

/**
 * What a job may do with a socket message before reducing it:
 * - `skip`: reducing it changes nothing — a `progress` of the node already running, once
 *   `progress_state` drives node states (§4.1);
 * - `hold`: it may wait for the next input the job reduces — a `progress_state` that only moves
 *   the steps of nodes already clocked stepping. The snapshot after it supersedes it (§2.7), and
 *   measuring only the last one gives the same clocks and the same measure: no node starts, ends
 *   or takes its first step in between;
 * - `reduce`: anything else, at once.
 */
export type Deferral = 'skip' | 'hold' | 'reduce'

export function deferralOf(state: JobState, message: PodMessage): Deferral {
  if (state.phase !== 'running' || !state.fromProgressState || state.lostRounds !== 0)
    return 'reduce'
  if (message.type === 'progress')
    return (message.data.node ?? state.currentNode) === state.currentNode ? 'skip' : 'reduce'
  if (message.type === 'progress_state')
    return movesOnlySteps(state, message.data.nodes) ? 'hold' : 'reduce'
  return 'reduce'
}

function movesOnlySteps(state: JobState, nodes: Readonly<Record<string, NodeState>>): boolean {
  const { expected, timing } = state
  const before = state.nodes
  for (let i = 0; i < expected.length; i++) {
    const { id } = expected[i]!
    const node = nodes[id]
    const previous = before[id]
    if (node === undefined || previous === undefined) {
      if (node !== previous) return false
      continue
    }
    if (node.state !== previous.state || node.max !== previous.max) return false
    if (node.value === previous.value || node.state === 'finished') continue
    if (timing.clocks[id]?.firstStepAt === undefined) return false
  }
  return true
}
