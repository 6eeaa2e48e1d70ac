import type { NodeOutput } from '../protocol/ComfyMessage.js'
import type { RunTiming } from './RunTiming.js'
import { expectedNodes, type ExpectedNode } from './expectedNodes.js'
import type { CostLookup } from './ClassCost.js'
import type { JobState } from './JobState.js'
import type { NodeState } from './measureProgress.js'
import type { Workflow } from './Workflow.js'

// A new job's empty parts, shared by every job: the reducer replaces them, never changes them.
const NOTHING_EXPECTED: readonly ExpectedNode[] = []
const NOT_TIMED: RunTiming = { clocks: {}, plan: new Map(), actualSeconds: 0, plannedSeconds: 0 }
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
  model: CostLookup,
  phase: 'submitting' | 'queued' = 'submitting',
): JobState {
  return {
    promptId,
    phase,
    queuedEmitted: false,
    graphKnown: workflow !== undefined,
    expected: workflow === undefined ? NOTHING_EXPECTED : expectedNodes(workflow),
    model,
    timing: NOT_TIMED,
    cachedNodes: NO_NODES,
    nodes: NO_NODE_STATES,
    fromProgressState: false,
    currentNode: undefined,
    outputs: NO_OUTPUTS,
    progress: 0,
    totalValue: 0,
    totalMax: 0,
    progressSource: 'websocket',
    progressVersion: 0,
    remaining: undefined,
    activity: undefined,
    measuredAt: undefined,
    submittedAt,
    startedAt: undefined,
    absentFromQueue: false,
    lostRounds: 0,
    viewUrl,
  }
}
