import type { JobInput, JobState } from './JobState.js'
import { measured, NO_EVENTS, revise, type JobStep } from './jobSteps.js'
import { reduceMessage } from './reduceMessage.js'
import { reduceHistory, reduceQueue, withGraph } from './reduceSnapshot.js'

/**
 * The one job lifecycle (`queued → running → completed | failed | interrupted`), fed alike by
 * WebSocket messages and REST snapshots. Pure: same state and input, same step.
 */
export function reduceJob(state: JobState, input: JobInput): JobStep {
  if (state.phase === 'done') return { state, events: NO_EVENTS }
  switch (input.kind) {
    case 'accepted':
      return {
        state: revise(state, {
          promptId: input.promptId,
          phase: state.phase === 'submitting' ? 'queued' : state.phase,
        }),
        events: NO_EVENTS,
      }
    case 'queue':
      return reduceQueue(withGraph(state, input.queue), input.queue, input.at, input.source)
    case 'message':
      return reduceMessage(
        state.lostRounds === 0 ? state : revise(state, { lostRounds: 0, absentFromQueue: false }),
        input.message,
        input.at,
      )
    case 'history':
      return reduceHistory(state, input.entry, input.at, input.source)
    case 'tick':
      return state.phase === 'running'
        ? measured(state, state.nodes, state.currentNode, NO_EVENTS, input.at, state.progressSource)
        : { state, events: NO_EVENTS }
  }
}
