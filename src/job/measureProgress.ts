import type { NodeProgressSummary } from './JobEvent.js'

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
}

/**
 * Protocol §4.1: `100 × Σ w·f / Σ w` over the expected nodes, with f = 1 for a finished node,
 * value/max for a running one and 0 for one not started. With nothing expected (everything
 * cached) the measure is 0 until completion. Runs on every progress message: it allocates only
 * its answer; the per-node summary is built by `summarizeNodes` for the events actually sent.
 */
export function measureProgress(
  expected: ReadonlyMap<string, number>,
  nodes: Readonly<Record<string, NodeState>>,
): ProgressMeasure {
  let weighted = 0
  let weights = 0
  let totalValue = 0
  let totalMax = 0
  for (const [id, weight] of expected) {
    const node = nodes[id]
    const max = maxOf(node)
    const value = valueOf(node, max)
    weighted += (weight * value) / max
    weights += weight
    totalValue += value
    totalMax += max
  }
  return { progress: weights === 0 ? 0 : (100 * weighted) / weights, totalValue, totalMax }
}

/** Every expected node's value, max and percentage, as a progress event carries them. */
export function summarizeNodes(
  expected: ReadonlyMap<string, number>,
  nodes: Readonly<Record<string, NodeState>>,
): Record<string, NodeProgressSummary> {
  const summary: Record<string, NodeProgressSummary> = {}
  for (const id of expected.keys()) {
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
