import { type Observable, Subject } from 'rxjs'
import { invalid } from '../internal/optionChecks.js'
import { expectedSeconds, learnCost, type ClassCost, type NodeRun } from './ClassCost.js'
import { priorCost } from './costPriors.js'

/** Options of `new CostModel(options)`. */
export interface CostModelOptions {
  /**
   * Costs to start from, by class type: what a pod learnt before (`model.costs()`, a store).
   * @default {}
   */
  readonly costs?: Readonly<Record<string, ClassCost>>
  /**
   * Costs assumed for classes not learnt yet, by class type, over the built-in ones (a loader
   * 3 s, a sampler step 0.1 s, any other node 0.2 s, …).
   * @default {}
   */
  readonly priors?: Readonly<Record<string, Omit<ClassCost, 'runs'>>>
}

/** A class's cost changed: what `learned$` tells, e.g. to share it. */
export interface LearnedCost {
  readonly classType: string
  readonly cost: ClassCost
}

/**
 * How long each node class takes on a pod, learnt online from its executions: seconds per run
 * for nodes without steps, seconds per step (and the usual step count) for nodes that report
 * steps, cached nodes excluded. A job weighs its nodes by it and estimates the time left from it.
 * One per pod by default (`pod.costModel`); give one to several pods of the same hardware, or
 * share it between instances through a store (`shareCostModel`).
 *
 * @example
 * ```ts
 * import { ComfyPod } from 'comfyui-rx'
 *
 * const pod = new ComfyPod('http://127.0.0.1:8188')
 * // … after a few jobs
 * pod.costModel.typicalSeconds('KSampler', 20) // 1.9
 * pod.costModel.costs() // { KSampler: { secondsPerRun: 0.3, secondsPerStep: 0.08, steps: 20, runs: 4 }, … }
 * ```
 */
export class CostModel {
  /** Every cost learnt, as it is learnt (not the costs merged in). */
  readonly learned$: Observable<LearnedCost>

  private readonly learnt = new Map<string, ClassCost>()
  private readonly priors: ReadonlyMap<string, ClassCost>
  // A plain Subject: costs are learnt by method calls from the jobs, not from a stream.
  private readonly learnedCosts = new Subject<LearnedCost>()

  /**
   * @param options - see `CostModelOptions`
   * @throws TypeError for an invalid option or cost
   */
  constructor(options: CostModelOptions = {}) {
    const { costs = {}, priors = {} } = options
    if (typeof costs !== 'object' || costs === null) invalid('costs', costs, 'an object')
    if (typeof priors !== 'object' || priors === null) invalid('priors', priors, 'an object')
    this.priors = new Map(
      Object.entries(priors).map(([classType, prior]) => [
        classType,
        checkedCost(`priors.${classType}`, { ...prior, runs: 0 }),
      ]),
    )
    this.merge(costs)
    this.learned$ = this.learnedCosts.asObservable()
  }

  /** The cost of a class: learnt, or its prior. */
  cost(classType: string): ClassCost {
    return this.learnt.get(classType) ?? this.priors.get(classType) ?? priorCost(classType)
  }

  /**
   * The seconds a node of the class typically takes on the pod, with its step count when known
   * (a KSampler's `steps`).
   */
  typicalSeconds(classType: string, steps?: number): number {
    return expectedSeconds(this.cost(classType), steps)
  }

  /** Every learnt cost, by class type (priors left out): what to save or show. */
  costs(): Record<string, ClassCost> {
    return Object.fromEntries(this.learnt)
  }

  /** Learns from one execution of a node; a job calls it for every node it timed. */
  learn(run: NodeRun): void {
    if (!(run.seconds >= 0) || !Number.isFinite(run.seconds)) return
    const cost = learnCost(this.learnt.get(run.classType), run)
    this.learnt.set(run.classType, cost)
    // Told only to listeners: a stock Subject allocates on every `next`, listened to or not.
    if (this.learnedCosts.observed) this.learnedCosts.next({ classType: run.classType, cost })
  }

  /**
   * Takes costs learnt elsewhere (another instance, a store): each replaces this model's cost of
   * its class unless this one was learnt from more runs.
   *
   * @throws TypeError for a cost that is not one
   */
  merge(costs: Readonly<Record<string, ClassCost>>): void {
    for (const [classType, cost] of Object.entries(costs)) {
      const checked = checkedCost(`costs.${classType}`, cost)
      if (checked.runs >= (this.learnt.get(classType)?.runs ?? 0))
        this.learnt.set(classType, checked)
    }
  }
}

function checkedCost(name: string, cost: unknown): ClassCost {
  const { secondsPerRun, secondsPerStep, steps, runs } = (cost ?? {}) as Partial<ClassCost>
  const seconds = (value: unknown) => typeof value === 'number' && value >= 0 && value < Infinity
  const valid =
    seconds(secondsPerRun) &&
    seconds(runs) &&
    (secondsPerStep === undefined || seconds(secondsPerStep)) &&
    (steps === undefined || seconds(steps))
  if (!valid) invalid(name, JSON.stringify(cost), 'a ClassCost: { secondsPerRun, runs, … } >= 0')
  return {
    secondsPerRun: secondsPerRun!,
    ...(secondsPerStep === undefined ? {} : { secondsPerStep }),
    ...(steps === undefined ? {} : { steps }),
    runs: runs!,
  }
}
