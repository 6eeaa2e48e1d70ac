import { expectedSeconds, type CostLookup } from './ClassCost.js'
import type { RunTiming } from './RunTiming.js'
import type { ExpectedNode } from './expectedNodes.js'
import type { NodeProgressSummary, ProgressActivity } from './JobEvent.js'

/**
 * What the job knows of one node: running at `value` of `max`, or `state: 'finished'`. The shape
 * of a `progress_state` entry, so that a snapshot is kept as it came, without a copy.
 */
export interface NodeState {
  readonly value: number
  readonly max: number
  readonly state: string
}

/** Overall progress, before the monotonic clamp. */
export interface ProgressMeasure {
  /** 0–100, unclamped. */
  readonly progress: number
  readonly totalValue: number
  readonly totalMax: number
  /** Seconds left; undefined while the estimate has no basis. */
  readonly remaining: number | undefined
  readonly activity: ProgressActivity | undefined
}

/** A node's time to its next step (or end) is credited up to this share of it, never past. */
const CREDIT_LIMIT = 0.95
/** Pseudo-seconds of agreement between the model and the pod, so one node cannot swing the speed. */
const SPEED_PRIOR_SECONDS = 1
/** The estimate of the time left has a basis once priors make at most this share of it. */
const PRIOR_SHARE_LIMIT = 0.25

/**
 * Progress by expected time: `100 × done / (done + left)`, where `done` is the run's elapsed time
 * and `left` the expected time of the work left — per expected node, from the run's cost plan
 * (seconds per run, per step), a stepping node from its own step rate, corrected by how fast this
 * run went against the model on the nodes it had learnt. A running node's time since its last step
 * (or its start: loading) counts up to 95 % of what it was expected to take, never past, so the
 * bar moves while a model loads and stops short of the node's share when it overruns. The time
 * left has a basis once at most a quarter of it rests on priors. With nothing expected (everything
 * cached) progress is 0 until completion.
 */
export function measureProgress(
  expected: readonly ExpectedNode[],
  nodes: Readonly<Record<string, NodeState>>,
  timing: RunTiming,
  model: CostLookup,
  startedAt: number | undefined,
  at: number,
): ProgressMeasure {
  let totalValue = 0
  let totalMax = 0
  let left = 0
  let leftOnPriors = 0
  let uncredited = 0
  let loading = false
  let stepping = false
  const speed =
    (timing.actualSeconds + SPEED_PRIOR_SECONDS) / (timing.plannedSeconds + SPEED_PRIOR_SECONDS)
  for (let i = 0; i < expected.length; i++) {
    const { id, classType, steps } = expected[i]!
    const node = nodes[id]
    const max = maxOf(node)
    totalValue += valueOf(node, max)
    totalMax += max
    if (startedAt === undefined || node?.state === 'finished') continue
    const cost = timing.plan.get(classType) ?? model.cost(classType)
    const learnt = cost.runs > 0
    const whole = expectedSeconds(cost, max > 1 ? max : steps) * (learnt ? speed : 1)
    const clock = timing.clocks[id]
    if (clock === undefined) {
      left += whole
      if (!learnt) leftOnPriors += whole
      continue
    }
    let since: number
    let toNext: number
    let after = 0
    const hasSteps = clock.stepAt !== undefined && clock.firstStepAt !== undefined
    if (clock.stepAt === undefined || clock.firstStepAt === undefined) {
      loading = true
      since = (at - clock.startedAt) / 1000
      toNext = whole
    } else {
      stepping = true
      const perStep =
        clock.step > clock.firstStep
          ? (clock.stepAt - clock.firstStepAt) / 1000 / (clock.step - clock.firstStep)
          : cost.secondsPerStep !== undefined
            ? cost.secondsPerStep * (learnt ? speed : 1)
            : (clock.firstStepAt - clock.startedAt) / 1000 / Math.max(1, clock.firstStep)
      const steps = clock.max - clock.step
      since = (at - clock.stepAt) / 1000
      toNext = steps > 0 ? perStep : perStep * (1 - CREDIT_LIMIT)
      after = Math.max(0, steps - 1) * perStep
    }
    const credit = Math.min(since, CREDIT_LIMIT * toNext)
    uncredited += since - credit
    const nodeLeft = toNext - credit + after
    left += nodeLeft
    if (!learnt && !hasSteps) leftOnPriors += nodeLeft
  }
  const done =
    startedAt === undefined || expected.length === 0
      ? 0
      : Math.max(0, (at - startedAt) / 1000 - uncredited)
  return {
    progress: done + left > 0 ? (100 * done) / (done + left) : 0,
    totalValue,
    totalMax,
    remaining:
      startedAt !== undefined && leftOnPriors <= PRIOR_SHARE_LIMIT * left ? left : undefined,
    activity: loading ? 'loading' : stepping ? 'stepping' : undefined,
  }
}

/** Every expected node's value, max and percentage, as a progress event carries them. */
export function summarizeNodes(
  expected: readonly ExpectedNode[],
  nodes: Readonly<Record<string, NodeState>>,
): Record<string, NodeProgressSummary> {
  const summary: Record<string, NodeProgressSummary> = {}
  for (const { id } of expected) {
    const node = nodes[id]
    const max = maxOf(node)
    const value = valueOf(node, max)
    summary[id] = { value, max, percentage: round1((value / max) * 100) }
  }
  return summary
}

/** Rounds to one decimal. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10
}

function maxOf(node: NodeState | undefined): number {
  return node !== undefined && node.max > 0 ? node.max : 1
}

function valueOf(node: NodeState | undefined, max: number): number {
  if (node === undefined) return 0
  return node.state === 'finished' ? max : Math.min(Math.max(node.value, 0), max)
}
