import type { NodeOutput } from '../protocol/ComfyMessage.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { HistoryEntry } from '../protocol/History.js'
import type { ComfyError } from '../errors/ComfyError.js'
import type { JobInput, JobState, QueueState } from './JobState.js'
import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import type { ExecutionErrorData, ExecutionInterruptedData } from '../protocol/ComfyMessage.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import { expectedNodes } from './expectedNodes.js'
import { imagesOf } from './imagesOf.js'
import type { JobEvent, JobProgress } from './JobEvent.js'
import { measureProgress, round1, type NodeState } from './measureProgress.js'
import { progressEvent } from './progressEvent.js'
import type { Workflow } from './Workflow.js'

/** A terminal failure: the pipeline turns it into the Observable's error. */
export interface JobFailed {
  readonly type: 'failed'
  readonly error: ComfyError
}

/** One step of the reducer: the next state and what to emit. */
export interface JobStep {
  readonly state: JobState
  readonly events: readonly (JobEvent | JobFailed)[]
}

/** Most steps emit nothing: one shared empty list rather than one per message. */
const NO_EVENTS: readonly never[] = []
// A new job's empty parts, shared by every job: the reducer replaces them, never changes them.
const NOTHING_EXPECTED: ReadonlyMap<string, number> = new Map()
const NO_NODES: readonly string[] = []
const NO_NODE_STATES: Readonly<Record<string, NodeState>> = {}
const NO_OUTPUTS: Readonly<Record<string, NodeOutput>> = {}

/**
 * The state of a job about to be submitted, or (`phase: 'queued'`) of a prompt queued earlier,
 * whose graph may not be known yet.
 */
export function initialJobState(
  promptId: string,
  workflow: Workflow | undefined,
  submittedAt: number,
  viewUrl: JobState['viewUrl'],
  phase: 'submitting' | 'queued' = 'submitting',
): JobState {
  return {
    promptId,
    phase,
    queuedEmitted: false,
    graphKnown: workflow !== undefined,
    expected: workflow === undefined ? NOTHING_EXPECTED : expectedNodes(workflow),
    cachedNodes: NO_NODES,
    nodes: NO_NODE_STATES,
    fromProgressState: false,
    currentNode: undefined,
    outputs: NO_OUTPUTS,
    progress: 0,
    totalValue: 0,
    totalMax: 0,
    progressAt: submittedAt,
    progressSource: 'websocket',
    progressVersion: 0,
    rateFromAt: undefined,
    rateFromProgress: 0,
    submittedAt,
    startedAt: undefined,
    absentFromQueue: false,
    lostRounds: 0,
    viewUrl,
  }
}

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
  }
}

function reduceMessage(state: JobState, message: PodMessage, at: number): JobStep {
  const source = 'websocket'
  switch (message.type) {
    case 'execution_start':
      return start(state, at, source)
    case 'execution_cached': {
      const expected = new Map(state.expected)
      for (const node of message.data.nodes) expected.delete(node)
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
        return { state: revise(started.state, { phase: 'finishing' }), events: started.events }
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
      const { state: base, events } = start(state, at, source)
      const node = message.data.node ?? state.currentNode
      if (node === undefined) return { state: base, events }
      const nodes = state.fromProgressState
        ? base.nodes
        : {
            ...base.nodes,
            [node]: { value: message.data.value, max: message.data.max, state: 'running' },
          }
      const step = progressed(base, nodes, node, events, at, source)
      if (step.state.rateFromAt !== undefined) return step
      return {
        state: revise(step.state, { rateFromAt: at, rateFromProgress: step.state.progress }),
        events: step.events,
      }
    }
    case 'progress_state': {
      const { state: started, events } = start(state, at, source)
      const base = started.fromProgressState
        ? started
        : revise(started, { fromProgressState: true })
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

function reduceHistory(
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

function reduceQueue(state: JobState, queue: QueueState, at: number, source: JobMethod): JobStep {
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
function withGraph(state: JobState, queue: QueueState): JobState {
  if (state.graphKnown || queue.state === 'absent' || queue.workflow === undefined) return state
  const shared = expectedNodes(queue.workflow)
  if (state.cachedNodes.length === 0) return revise(state, { graphKnown: true, expected: shared })
  const expected = new Map(shared)
  for (const node of state.cachedNodes) expected.delete(node)
  return revise(state, { graphKnown: true, expected })
}

/** Enters `running`, emitting `queued` first if it has not been (the start can beat the HTTP answer). */
function start(state: JobState, at: number, source: JobMethod): JobStep {
  if (state.phase !== 'submitting' && state.phase !== 'queued') return { state, events: NO_EVENTS }
  const events: JobEvent[] = []
  if (!state.queuedEmitted)
    events.push({ type: 'queued', promptId: state.promptId, source, position: 0 })
  events.push({ type: 'started', promptId: state.promptId, source })
  return { state: revise(state, { phase: 'running', queuedEmitted: true, startedAt: at }), events }
}

/**
 * `base` with its new node states and current node, and the progress they make: never back,
 * below 100 until completion. One copy of the state per message, none when nothing changed.
 */
function progressed(
  base: JobState,
  nodes: Readonly<Record<string, NodeState>>,
  currentNode: string | undefined,
  events: readonly (JobEvent | JobFailed)[],
  at: number,
  source: JobMethod,
): JobStep {
  if (nodes === base.nodes && currentNode === base.currentNode) return { state: base, events }
  const measure = measureProgress(base.expected, nodes)
  const progress = Math.min(99, Math.max(base.progress, round1(measure.progress)))
  if (
    progress === base.progress &&
    measure.totalValue === base.totalValue &&
    currentNode === base.currentNode
  ) {
    const next = copyOf(base)
    next.nodes = nodes
    return { state: next, events }
  }
  const next = copyOf(base)
  next.nodes = nodes
  next.currentNode = currentNode
  next.progress = progress
  next.totalValue = measure.totalValue
  next.totalMax = measure.totalMax
  next.progressAt = at
  next.progressSource = source
  next.progressVersion = base.progressVersion + 1
  return { state: next, events }
}

/** `state` with some fields changed. */
function revise(state: JobState, changes: Partial<JobState>): JobState {
  return Object.assign(copyOf(state), changes)
}

/**
 * A copy of a state, written out field by field in one order: every state then shares one
 * hidden class. Spreading the previous state with changed fields sent V8 down a slow path that
 * cost most of a progress message.
 */
function copyOf(state: JobState): { -readonly [K in keyof JobState]: JobState[K] } {
  return {
    promptId: state.promptId,
    phase: state.phase,
    queuedEmitted: state.queuedEmitted,
    graphKnown: state.graphKnown,
    expected: state.expected,
    cachedNodes: state.cachedNodes,
    nodes: state.nodes,
    fromProgressState: state.fromProgressState,
    currentNode: state.currentNode,
    outputs: state.outputs,
    progress: state.progress,
    totalValue: state.totalValue,
    totalMax: state.totalMax,
    progressAt: state.progressAt,
    progressSource: state.progressSource,
    progressVersion: state.progressVersion,
    rateFromAt: state.rateFromAt,
    rateFromProgress: state.rateFromProgress,
    submittedAt: state.submittedAt,
    startedAt: state.startedAt,
    absentFromQueue: state.absentFromQueue,
    lostRounds: state.lostRounds,
    viewUrl: state.viewUrl,
  }
}

function complete(
  state: JobState,
  events: readonly (JobEvent | JobFailed)[],
  at: number,
  source: JobMethod,
): JobStep {
  const nodes = finishAll(state)
  const { totalMax } = measureProgress(state.expected, nodes)
  const done = revise(state, {
    phase: 'done',
    nodes,
    progress: 100,
    totalValue: totalMax,
    totalMax,
    progressAt: at,
    progressSource: source,
  })
  const final: JobProgress = { ...progressEvent(done), estimatedTimeRemaining: 0 }
  return {
    state: done,
    events: [
      ...events,
      final,
      {
        type: 'completed',
        promptId: state.promptId,
        source,
        result: {
          promptId: state.promptId,
          status: 'completed',
          images: imagesOf(state.outputs, state.viewUrl),
          outputs: state.outputs,
          durationMs: at - state.submittedAt,
          method: source,
          progressUpdates: 0,
        },
      },
    ],
  }
}

function fail(
  state: JobState,
  error: ComfyError,
  events: readonly (JobEvent | JobFailed)[] = [],
): JobStep {
  return { state: revise(state, { phase: 'done' }), events: [...events, { type: 'failed', error }] }
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

function finish(
  nodes: Readonly<Record<string, NodeState>>,
  id: string,
): Readonly<Record<string, NodeState>> {
  const node = nodes[id]
  const max = node !== undefined && node.max > 0 ? node.max : 1
  return { ...nodes, [id]: { value: max, max, state: 'finished' } }
}

function finishAll(state: JobState): Readonly<Record<string, NodeState>> {
  let nodes = state.nodes
  for (const id of state.expected.keys()) nodes = finish(nodes, id)
  return nodes
}
