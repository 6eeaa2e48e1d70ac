import type { SimulatedNodeInputs, SimulatedNodeType } from './SimulatedNodeType.js'

/** Resolves a node type's inputs (a function for lists that change, like uploaded files). */
export function inputTypesOf(nodeType: SimulatedNodeType): SimulatedNodeInputs {
  const input = nodeType.input ?? {}
  return typeof input === 'function' ? input() : input
}
