import * as t from 'io-ts'
import { compileGuard } from '../protocol/compileGuard.js'

/** One node of an API-format workflow: `inputs` values are literals or links `[nodeId, outputIndex]` (§5.2). */
export const WorkflowNode = t.intersection([
  t.type({ class_type: t.string, inputs: t.UnknownRecord }),
  t.partial({ _meta: t.unknown }),
])
export type WorkflowNode = t.TypeOf<typeof WorkflowNode>

/**
 * A workflow in ComfyUI's API format ("Export (API)" in the UI): node id → node. The UI's own
 * save format (with `nodes` and `links` arrays) is not accepted by `POST /prompt`.
 */
export const Workflow = t.record(t.string, WorkflowNode)
export type Workflow = t.TypeOf<typeof Workflow>

/** `Workflow.is`, compiled once (`compileGuard`): every job checks its workflow. */
export const isWorkflow = compileGuard(Workflow)
