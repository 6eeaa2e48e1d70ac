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
