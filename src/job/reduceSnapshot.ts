import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import type { ExecutionErrorData, ExecutionInterruptedData } from '../protocol/ComfyMessage.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import { expectedNodes } from './expectedNodes.js'
import type { JobState, QueueState } from './JobState.js'
import { complete, fail, NO_EVENTS, revise, start, type JobStep } from './jobSteps.js'

// The REST snapshots of a prompt: where the queue puts it, and its history entry (§5.14).

/** A history entry of the prompt, or none yet (`/history/{id}` was `{}`). */
export function reduceHistory(
  state: JobState,
  entry: HistoryEntry | undefined,
  at: number,
  source: JobMethod,
): JobStep {
  if (entry === undefined) {
    if (state.phase === 'finishing') return complete(state, [], at, source)
    if (!state.absentFromQueue) return { state, events: NO_EVENTS }
    const lostRounds = state.lostRounds + 1
    return lostRounds >= 2
      ? fail(state, new ComfyPromptLostError(state.promptId))
      : { state: revise(state, { absentFromQueue: false, lostRounds }), events: NO_EVENTS }
  }
  const lead = start(state, at, source)
  for (const [name, data] of entry.status?.messages ?? []) {
    if (name === 'execution_error') {
      return fail(
        lead.state,
        new ComfyExecutionError({ ...(data as ExecutionErrorData), prompt_id: state.promptId }),
        lead.events,
      )
    }
    if (name === 'execution_interrupted') {
      return fail(
        lead.state,
        new ComfyInterruptedError({
          ...(data as ExecutionInterruptedData),
          prompt_id: state.promptId,
        }),
        lead.events,
      )
    }
  }
  if (entry.status?.status_str === 'error') {
    return fail(
      lead.state,
      new ComfyExecutionError({
        prompt_id: state.promptId,
        exception_message: 'the pod reported an error',
      }),
      lead.events,
    )
  }
  return complete(
    revise(lead.state, { outputs: { ...lead.state.outputs, ...entry.outputs } }),
    lead.events,
    at,
    source,
  )
}

export function reduceQueue(
  state: JobState,
  queue: QueueState,
  at: number,
  source: JobMethod,
): JobStep {
  switch (queue.state) {
    case 'absent':
      return { state: revise(state, { absentFromQueue: true }), events: NO_EVENTS }
    case 'running':
      return start(revise(state, { absentFromQueue: false, lostRounds: 0 }), at, source)
    case 'pending': {
      const present = revise(state, { absentFromQueue: false, lostRounds: 0 })
      return state.phase === 'queued' && !state.queuedEmitted
        ? {
            state: revise(present, { queuedEmitted: true }),
            events: [
              { type: 'queued', promptId: state.promptId, source, position: queue.position },
            ],
          }
        : { state: present, events: NO_EVENTS }
    }
  }
}

/** A tracked prompt's graph, learnt from the queue: the expected nodes, less the cached ones. */
export function withGraph(state: JobState, queue: QueueState): JobState {
  if (state.graphKnown || queue.state === 'absent' || queue.workflow === undefined) return state
  const shared = expectedNodes(queue.workflow)
  if (state.cachedNodes.length === 0) return revise(state, { graphKnown: true, expected: shared })
  const expected = shared.filter((node) => !state.cachedNodes.includes(node.id))
  return revise(state, { graphKnown: true, expected })
}
