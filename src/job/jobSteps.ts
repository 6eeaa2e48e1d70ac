import type { JobEvent, JobProgress } from './JobEvent.js'
import type { JobState } from './JobState.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import type { ComfyError } from '../errors/ComfyError.js'
import type { ClassCost, NodeRun } from './ClassCost.js'
import { clockNodes } from './clockNodes.js'
import { imagesOf } from './imagesOf.js'
import { measureProgress, round1, type NodeState } from './measureProgress.js'
import { progressEvent } from './progressEvent.js'

// The steps every part of the reducer takes: entering `running`, measuring progress, the end.

/** A terminal failure: the pipeline turns it into the Observable's error. */
export interface JobFailed {
  readonly type: 'failed'
  readonly error: ComfyError
}

/** A node of the run was timed: the pod's cost model learns from it; not an event. */
export interface NodeTimed {
  readonly type: 'timed'
  readonly run: NodeRun
}

/** What a step of the reducer emits. */
export type JobOutput = JobEvent | JobFailed | NodeTimed

/** One step of the reducer: the next state and what to emit. */
export interface JobStep {
  readonly state: JobState
  readonly events: readonly JobOutput[]
}

/** Most steps emit nothing: one shared empty list rather than one per message. */
export const NO_EVENTS: readonly never[] = []

/** Enters `running`, emitting `queued` first if it has not been (the start can beat the HTTP answer). */
export function start(state: JobState, at: number, source: JobMethod): JobStep {
  if (state.phase !== 'submitting' && state.phase !== 'queued') return { state, events: NO_EVENTS }
  const events: JobEvent[] = []
  if (!state.queuedEmitted)
    events.push({ type: 'queued', promptId: state.promptId, source, position: 0 })
  events.push({ type: 'started', promptId: state.promptId, source })
  // The run's cost plan: the model's costs as the run starts, so that what other jobs learn
  // meanwhile cannot shift this bar.
  const plan = new Map<string, ClassCost>()
  for (const { classType } of state.expected)
    if (!plan.has(classType)) plan.set(classType, state.model.cost(classType))
  return {
    state: revise(state, {
      phase: 'running',
      queuedEmitted: true,
      startedAt: at,
      measuredAt: at,
      timing: { ...state.timing, plan },
    }),
    events,
  }
}

/**
 * `base` with its new node states and current node, and the progress they make: never back,
 * below 100 until completion. One copy of the state per message, none when nothing changed.
 */
export function progressed(
  base: JobState,
  nodes: Readonly<Record<string, NodeState>>,
  currentNode: string | undefined,
  events: readonly JobOutput[],
  at: number,
  source: JobMethod,
): JobStep {
  if (nodes === base.nodes && currentNode === base.currentNode) return { state: base, events }
  return measured(base, nodes, currentNode, events, at, source)
}

/**
 * Where `clockNodes` puts the runs a message ended, emptied by `measured` right after: one array
 * for every message rather than one per message (almost none ends a run).
 */
const endedRuns: NodeRun[] = []

/**
 * `base` measured at `at`, with its node states: the nodes timed (each that finished is a
 * `timed` output, for the cost model), the progress by expected time, the time left and the
 * activity. A new progress version when what an event shows changed.
 */
export function measured(
  base: JobState,
  nodes: Readonly<Record<string, NodeState>>,
  currentNode: string | undefined,
  events: readonly JobOutput[],
  at: number,
  source: JobMethod,
): JobStep {
  const timing = clockNodes(base.timing, base.expected, base.nodes, nodes, at, endedRuns)
  const measure = measureProgress(base.expected, nodes, timing, base.model, base.startedAt, at)
  const progress = Math.min(99, Math.max(base.progress, round1(measure.progress)))
  let outputs = events
  if (endedRuns.length > 0) {
    outputs = [...events, ...endedRuns.map((run) => ({ type: 'timed', run }) as const)]
    endedRuns.length = 0
  }
  const shown =
    progress !== base.progress ||
    measure.totalValue !== base.totalValue ||
    currentNode !== base.currentNode ||
    measure.activity !== base.activity
  // Written out here rather than through `revise`: V8 decides per allocation site whether the
  // objects made there are born old. The states of waiting jobs live long, and would make it
  // place every progress state in the old generation too, where each, dead at the next message,
  // keeps the young objects it points to alive through a collection (measured at 1,000 queued
  // jobs: 17 % of the bytes allocated while a prompt runs survived their first collection, 1.6 %
  // with the two sites apart).
  const next: JobState = {
    promptId: base.promptId,
    phase: base.phase,
    queuedEmitted: base.queuedEmitted,
    graphKnown: base.graphKnown,
    expected: base.expected,
    model: base.model,
    timing,
    cachedNodes: base.cachedNodes,
    nodes,
    fromProgressState: base.fromProgressState,
    currentNode,
    outputs: base.outputs,
    progress,
    totalValue: measure.totalValue,
    totalMax: shown ? measure.totalMax : base.totalMax,
    progressSource: shown ? source : base.progressSource,
    progressVersion: shown ? base.progressVersion + 1 : base.progressVersion,
    remaining: measure.remaining,
    activity: measure.activity,
    measuredAt: at,
    submittedAt: base.submittedAt,
    startedAt: base.startedAt,
    absentFromQueue: base.absentFromQueue,
    lostRounds: base.lostRounds,
    viewUrl: base.viewUrl,
  }
  return { state: next, events: outputs }
}

/** `state` with some fields changed: a transition of the job, not its progress (`measured`). */
export function revise(state: JobState, changes: Partial<JobState>): JobState {
  return Object.assign(copyOf(state), changes)
}

/**
 * A copy of a state, written out field by field in the order of `initialJobState` and
 * `measured`: every state then shares one hidden class. Spreading the previous state with
 * changed fields sent V8 down a slow path that cost most of a progress message.
 */
function copyOf(state: JobState): { -readonly [K in keyof JobState]: JobState[K] } {
  return {
    promptId: state.promptId,
    phase: state.phase,
    queuedEmitted: state.queuedEmitted,
    graphKnown: state.graphKnown,
    expected: state.expected,
    model: state.model,
    timing: state.timing,
    cachedNodes: state.cachedNodes,
    nodes: state.nodes,
    fromProgressState: state.fromProgressState,
    currentNode: state.currentNode,
    outputs: state.outputs,
    progress: state.progress,
    totalValue: state.totalValue,
    totalMax: state.totalMax,
    progressSource: state.progressSource,
    progressVersion: state.progressVersion,
    remaining: state.remaining,
    activity: state.activity,
    measuredAt: state.measuredAt,
    submittedAt: state.submittedAt,
    startedAt: state.startedAt,
    absentFromQueue: state.absentFromQueue,
    lostRounds: state.lostRounds,
    viewUrl: state.viewUrl,
  }
}

export function complete(
  state: JobState,
  events: readonly JobOutput[],
  at: number,
  source: JobMethod,
): JobStep {
  const nodes = finishAll(state)
  let totalMax = 0
  for (const { id } of state.expected) totalMax += nodes[id]!.max
  const done = revise(state, {
    phase: 'done',
    nodes,
    progress: 100,
    activity: undefined,
    totalValue: totalMax,
    totalMax,
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

export function fail(
  state: JobState,
  error: ComfyError,
  events: readonly JobOutput[] = [],
): JobStep {
  return { state: revise(state, { phase: 'done' }), events: [...events, { type: 'failed', error }] }
}

export function finish(
  nodes: Readonly<Record<string, NodeState>>,
  id: string,
): Readonly<Record<string, NodeState>> {
  const node = nodes[id]
  const max = node !== undefined && node.max > 0 ? node.max : 1
  return { ...nodes, [id]: { value: max, max, state: 'finished' } }
}

export function finishAll(state: JobState): Readonly<Record<string, NodeState>> {
  let nodes = state.nodes
  for (const { id } of state.expected) nodes = finish(nodes, id)
  return nodes
}
