import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { JobState } from './JobState.js'
import { fail, finish, NO_EVENTS, progressed, revise, start, type JobStep } from './jobSteps.js'

/** A socket message of the job's prompt (protocol §2, §3). */
export function reduceMessage(state: JobState, message: PodMessage, at: number): JobStep {
  const source = 'websocket'
  switch (message.type) {
    case 'execution_start':
      return start(state, at, source)
    case 'execution_cached': {
      const cached = message.data.nodes
      const expected = state.expected.filter((node) => !cached.includes(node.id))
      return {
        state: revise(state, { expected, cachedNodes: message.data.nodes }),
        events: NO_EVENTS,
      }
    }
    case 'executing': {
      if (message.data.node === null) {
        if (state.phase === 'finishing') return { state, events: NO_EVENTS }
        // The end can come with nothing before it (missed while reconnecting): start first.
        const started = start(state, at, source)
        // Without progress_state, the last node running ends here: timed, like the others.
        const last = started.state.currentNode
        const ended =
          state.fromProgressState || last === undefined
            ? started
            : progressed(
                started.state,
                finish(started.state.nodes, last),
                last,
                started.events,
                at,
                source,
              )
        return { state: revise(ended.state, { phase: 'finishing' }), events: ended.events }
      }
      const { state: base, events } = start(state, at, source)
      const node = message.data.node
      let nodes = base.nodes
      if (!state.fromProgressState) {
        const previous = state.currentNode
        if (previous !== undefined && previous !== node) nodes = finish(nodes, previous)
        if (nodes[node] === undefined)
          nodes = { ...nodes, [node]: { value: 0, max: 1, state: 'running' } }
      }
      return progressed(base, nodes, node, events, at, source)
    }
    case 'progress': {
      const started = underWay(state) ? undefined : start(state, at, source)
      const base = started?.state ?? state
      const events = started?.events ?? NO_EVENTS
      const node = message.data.node ?? state.currentNode
      if (node === undefined) return { state: base, events }
      const nodes = state.fromProgressState
        ? base.nodes
        : {
            ...base.nodes,
            [node]: { value: message.data.value, max: message.data.max, state: 'running' },
          }
      return progressed(base, nodes, node, events, at, source)
    }
    case 'progress_state': {
      // The common case, every step of a running prompt, allocates no step of its own.
      const started = underWay(state) ? undefined : start(state, at, source)
      const events = started?.events ?? NO_EVENTS
      const current = started?.state ?? state
      const base = current.fromProgressState
        ? current
        : revise(current, { fromProgressState: true })
      // A snapshot is complete and never changed: kept as decoded (§2.7).
      return progressed(base, message.data.nodes, base.currentNode, events, at, source)
    }
    case 'executed': {
      const { node, output } = message.data
      const outputs = output === null ? state.outputs : { ...state.outputs, [node]: output }
      const nodes = state.fromProgressState ? state.nodes : finish(state.nodes, node)
      return progressed(
        outputs === state.outputs ? state : revise(state, { outputs }),
        nodes,
        state.currentNode,
        [{ type: 'node_executed', promptId: state.promptId, source, node, output }],
        at,
        source,
      )
    }
    case 'execution_error':
      // "ExecutionBlocked" is reported as an error with no timestamp, and execution goes on (§2.10).
      if (
        message.data.exception_type === 'ExecutionBlocked' &&
        message.data.timestamp === undefined
      ) {
        return { state, events: NO_EVENTS }
      }
      return fail(state, new ComfyExecutionError(message.data))
    case 'execution_interrupted':
      return fail(state, new ComfyInterruptedError(message.data))
    case 'preview_image':
      return preview(state, state.currentNode, message.mime, message.image)
    case 'preview_image_with_metadata':
      return preview(
        state,
        message.metadata.display_node_id ?? message.metadata.node_id,
        message.mime,
        message.image,
      )
    default:
      return { state, events: NO_EVENTS }
  }
}

/** Whether the prompt has started: the frames of a running prompt skip `start`. */
function underWay(state: JobState): boolean {
  return state.phase !== 'submitting' && state.phase !== 'queued'
}

function preview(
  state: JobState,
  node: string | undefined,
  mime: string,
  image: Uint8Array,
): JobStep {
  return {
    state,
    events: [
      {
        type: 'preview',
        promptId: state.promptId,
        source: 'websocket',
        ...(node === undefined ? {} : { node }),
        mime,
        image,
      },
    ],
  }
}
