import type { ClassCost } from './ClassCost.js'

/** When a running node started and reported its steps, in scheduler time (ms). */
export interface NodeClock {
  readonly startedAt: number
  /** Its first step seen, and when; undefined before it. */
  readonly firstStepAt: number | undefined
  readonly firstStep: number
  /** Its latest step, and when. */
  readonly stepAt: number | undefined
  readonly step: number
  readonly max: number
  /** First seen past its start (a reconnect missed it): timed for progress, not learnt from. */
  readonly partial: boolean
}

/** What this run has timed so far. */
export interface RunTiming {
  /** The running nodes' clocks; undefined once finished. */
  readonly clocks: Readonly<Record<string, NodeClock | undefined>>
  /** Costs by class for this run: the model's at the start, then what this run learnt. */
  readonly plan: ReadonlyMap<string, ClassCost>
  /** Seconds taken and expected by the nodes finished in this run whose class had been learnt. */
  readonly actualSeconds: number
  readonly plannedSeconds: number
}
