/**
 * What one node class costs on a pod: seconds per run outside its steps (the whole run for a
 * node without steps), and for a class that reports steps, seconds per step and its usual number
 * of steps (`max`). `runs` counts the executions it was learnt from; 0 for a prior.
 *
 * @example
 * ```ts
 * import type { ClassCost } from 'comfyui-rx'
 *
 * const ksampler: ClassCost = { secondsPerRun: 0.2, secondsPerStep: 0.08, steps: 20, runs: 12 }
 * ```
 */
export interface ClassCost {
  readonly secondsPerRun: number
  readonly secondsPerStep?: number
  readonly steps?: number
  readonly runs: number
}

/** Where a job reads the cost of a class: a `CostModel`. */
export interface CostLookup {
  cost(classType: string): ClassCost
}

/** One execution of a node, as a job timed it (cached nodes are never timed). */
export interface NodeRun {
  readonly classType: string
  /** From the node's start to its end. */
  readonly seconds: number
  /** The steps it reported (its `max`), 0 for none. */
  readonly steps: number
  /** Seconds per step between its first and last step; with 2 steps or more. */
  readonly secondsPerStep?: number
}

/** Weight of a new run once a class has a few: recent runs count more (a pod's load changes). */
const RECENT_WEIGHT = 0.3

/**
 * The cost of a class after one more run: a running mean of its first runs, then a moving average
 * that follows the pod. A prior (`runs: 0`) is replaced by the first run.
 */
export function learnCost(previous: ClassCost | undefined, run: NodeRun): ClassCost {
  const runs = previous?.runs ?? 0
  if (run.steps >= 2 && run.secondsPerStep !== undefined) {
    const overhead = Math.max(0, run.seconds - run.steps * run.secondsPerStep)
    return {
      secondsPerRun: mix(previous?.secondsPerRun, overhead, runs),
      secondsPerStep: mix(previous?.secondsPerStep, run.secondsPerStep, runs),
      steps: mix(previous?.steps, run.steps, runs),
      runs: runs + 1,
    }
  }
  const perStep = previous?.secondsPerStep
  if (perStep !== undefined && run.steps > 0) {
    // A class with steps that reported one: the rest of its time is its overhead.
    const overhead = Math.max(0, run.seconds - run.steps * perStep)
    return {
      ...previous!,
      secondsPerRun: mix(previous?.secondsPerRun, overhead, runs),
      runs: runs + 1,
    }
  }
  return { secondsPerRun: mix(previous?.secondsPerRun, run.seconds, runs), runs: runs + 1 }
}

/** `value` weighed into what `runs` runs gave (`old`): the recent ones count at least 30 %. */
function mix(old: number | undefined, value: number, runs: number): number {
  if (old === undefined || runs === 0) return value
  return old + Math.max(1 / (runs + 1), RECENT_WEIGHT) * (value - old)
}

/** The seconds a node of this cost is expected to take, with `steps` when known. */
export function expectedSeconds(cost: ClassCost, steps?: number): number {
  const perStep = cost.secondsPerStep
  if (perStep === undefined) return cost.secondsPerRun
  return cost.secondsPerRun + perStep * (steps ?? cost.steps ?? 0)
}
