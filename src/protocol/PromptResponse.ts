import * as t from 'io-ts'

/** One validation error of a node, or of the whole prompt (§5.2). */
export const PromptError = t.intersection([
  t.type({ type: t.string, message: t.string }),
  t.partial({ details: t.string, extra_info: t.unknown }),
])
export type PromptError = t.TypeOf<typeof PromptError>

/** The validation errors of one node: `node_errors[nodeId]` (§5.2). */
export const NodeErrors = t.intersection([
  t.type({ errors: t.array(PromptError) }),
  t.partial({ dependent_outputs: t.array(t.string), class_type: t.string }),
])
export type NodeErrors = t.TypeOf<typeof NodeErrors>

/** `POST /prompt` 200: queued. `node_errors` may be non-empty: some outputs were dropped (§5.2). */
export const PromptAccepted = t.intersection([
  t.type({ prompt_id: t.string, number: t.number }),
  t.partial({ node_errors: t.record(t.string, NodeErrors) }),
])
export type PromptAccepted = t.TypeOf<typeof PromptAccepted>

/** `POST /prompt` 400: not queued. `error` may also be a plain string (§5.2). */
export const PromptRejected = t.intersection([
  t.type({ error: t.union([PromptError, t.string]) }),
  t.partial({ node_errors: t.record(t.string, NodeErrors) }),
])
export type PromptRejected = t.TypeOf<typeof PromptRejected>

/**
 * `extra_info` of a `missing_node_type` rejection (servers after 0.3.64; older ones answer
 * `invalid_prompt` with an empty `extra_info`): the node whose class the server does not know, or
 * that has no `class_type` at all (`class_type: null`). `node_title` is the node's `_meta.title`,
 * or null when it has none (§5.2).
 */
export const MissingNodeTypeInfo = t.partial({
  node_id: t.string,
  class_type: t.union([t.string, t.null]),
  node_title: t.union([t.string, t.null]),
})
export type MissingNodeTypeInfo = t.TypeOf<typeof MissingNodeTypeInfo>

/**
 * `extra_info` of a `dependency_cycle` node error (v0.20.0): every node of the cycle gets one, each
 * listing the whole cycle once, in the order it was walked (§5.2).
 */
export const DependencyCycleInfo = t.intersection([
  t.type({ cycle_nodes: t.array(t.string) }),
  t.partial({ node_id: t.string }),
])
export type DependencyCycleInfo = t.TypeOf<typeof DependencyCycleInfo>
