import { expectedSeconds, learnCost, type NodeRun } from './ClassCost.js'
import type { ExpectedNode } from './expectedNodes.js'
import type { NodeState } from './measureProgress.js'
import type { NodeClock, RunTiming } from './RunTiming.js'

/**
 * The timing of a run after its node states moved to `nodes` at `at`: nodes that started get a
 * clock, steps are stamped, and each node that finished (having been seen starting) is a
 * `NodeRun` to learn from, also learnt by this run's plan so that a second node of its class
 * expects what the first one took. Nodes that never ran (cached) are never timed. Answers `timing`
 * itself when nothing changed.
 */
export function clockNodes(
  timing: RunTiming,
  expected: readonly ExpectedNode[],
  before: Readonly<Record<string, NodeState>>,
  nodes: Readonly<Record<string, NodeState>>,
  at: number,
  runs: NodeRun[],
): RunTiming {
  let clocks: Record<string, NodeClock | undefined> | undefined
  let { plan, actualSeconds, plannedSeconds } = timing
  for (let i = 0; i < expected.length; i++) {
    const { id, classType } = expected[i]!
    const node = nodes[id]
    if (node === undefined) continue
    const previous = before[id]
    const clock = timing.clocks[id]
    if (node.state === 'finished') {
      if (clock === undefined || previous?.state === 'finished') continue
      clocks ??= { ...timing.clocks }
      // Not deleted: a record that loses keys turns slow to copy.
      clocks[id] = undefined
      if (clock.partial) continue
      const run = nodeRun(classType, clock, at)
      runs.push(run)
      const cost = plan.get(classType)
      if (cost !== undefined && cost.runs > 0) {
        actualSeconds += run.seconds
        plannedSeconds += expectedSeconds(cost, run.steps)
      }
      const learnt = new Map(plan)
      learnt.set(classType, learnCost(cost, run))
      plan = learnt
      continue
    }
    const stepped = node.max > 1 && node.value > 0
    if (clock === undefined || previous?.state === 'finished') {
      clocks ??= { ...timing.clocks }
      clocks[id] = {
        startedAt: at,
        firstStepAt: stepped ? at : undefined,
        firstStep: stepped ? node.value : 0,
        stepAt: stepped ? at : undefined,
        step: stepped ? node.value : 0,
        max: node.max,
        partial: stepped,
      }
    } else if (stepped && node.value !== clock.step) {
      clocks ??= { ...timing.clocks }
      // Written out: spreading the previous clock took V8's slow path, most of a message's cost.
      clocks[id] = {
        startedAt: clock.startedAt,
        firstStepAt: clock.firstStepAt ?? at,
        firstStep: clock.firstStepAt === undefined ? node.value : clock.firstStep,
        stepAt: at,
        step: node.value,
        max: node.max,
        partial: clock.partial,
      }
    }
  }
  if (clocks === undefined && plan === timing.plan) return timing
  return { clocks: clocks ?? timing.clocks, plan, actualSeconds, plannedSeconds }
}

function nodeRun(classType: string, clock: NodeClock, at: number): NodeRun {
  const seconds = (at - clock.startedAt) / 1000
  if (clock.stepAt === undefined || clock.firstStepAt === undefined)
    return { classType, seconds, steps: 0 }
  const stepped = clock.step - clock.firstStep
  return stepped > 0
    ? {
        classType,
        seconds,
        steps: clock.max,
        secondsPerStep: (clock.stepAt - clock.firstStepAt) / 1000 / stepped,
      }
    : { classType, seconds, steps: clock.max }
}
