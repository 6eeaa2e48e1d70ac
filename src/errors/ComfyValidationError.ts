import { isRight } from 'fp-ts/lib/Either.js'
import {
  DependencyCycleInfo,
  MissingNodeTypeInfo,
  type NodeErrors,
  type PromptError,
} from '../protocol/PromptResponse.js'
import { ComfyError } from './ComfyError.js'

/** The node of a workflow whose class the pod does not know (`missing_node_type`). */
export interface MissingNodeType {
  /** The node's id in the workflow. */
  readonly nodeId?: string
  /** The class it asked for; absent when the node had no `class_type` at all. */
  readonly classType?: string
  /** The node's title in the workflow (`_meta.title`), when it has one. */
  readonly nodeTitle?: string
}

/**
 * `POST /prompt` answered 400: the workflow failed validation, or the request itself was refused
 * (`invalid_prompt_id`), and nothing was queued (§5.2).
 *
 * @example
 * ```ts
 * import { ComfyValidationError } from 'comfyui-rx'
 *
 * pod.queueWorkflow(workflow).catch((error) => {
 *   if (!(error instanceof ComfyValidationError)) throw error
 *   if (error.missingNodeType) console.error('install', error.missingNodeType.classType)
 *   // install VHS_VideoCombine
 *   else if (error.cycleNodes) console.error('cycle through', error.cycleNodes.join(', '))
 *   // cycle through 4, 7
 *   else console.error(error.type, error.nodeErrors)
 * })
 * ```
 */
export class ComfyValidationError extends ComfyError {
  override readonly name = 'ComfyValidationError'
  readonly status = 400
  /** ComfyUI's `error.type` (`prompt_outputs_failed_validation`, `invalid_prompt_id`, …); undefined when `error` is a plain string. */
  readonly type: string | undefined
  /** The prompt id the request asked for, when it named one. */
  readonly promptId: string | undefined
  /**
   * The nodes of every dependency cycle the pod found (`dependency_cycle` node errors, v0.20.0),
   * each once, in the order reported; undefined when there is none.
   */
  readonly cycleNodes: readonly string[] | undefined
  /**
   * The node whose class the pod does not know, or that has no class: `missing_node_type`, or on
   * servers before it the `invalid_prompt` that said so; undefined for any other rejection.
   */
  readonly missingNodeType: MissingNodeType | undefined

  /**
   * @param error - ComfyUI's `error`: `{type, message, details, extra_info}`, or a plain string
   * @param nodeErrors - ComfyUI's `node_errors`: per node id, its errors and the outputs that
   *   depend on it
   * @param promptId - the prompt id the request asked for, if any
   */
  constructor(
    readonly error: PromptError | string,
    readonly nodeErrors: Readonly<Record<string, NodeErrors>>,
    promptId?: string,
  ) {
    super(describe(error, nodeErrors, promptId))
    this.type = typeof error === 'string' ? undefined : error.type
    this.promptId = promptId
    this.cycleNodes = cycleNodesOf(nodeErrors)
    this.missingNodeType = typeof error === 'string' ? undefined : missingNodeTypeOf(error)
  }
}

function describe(
  error: PromptError | string,
  nodeErrors: Readonly<Record<string, NodeErrors>>,
  promptId: string | undefined,
): string {
  const nodes = Object.entries(nodeErrors).map(
    ([nodeId, { class_type, errors }]) =>
      `node ${nodeId}${class_type === undefined ? '' : ` ${class_type}`}: ${errors
        .map((e) => (e.details ? `${e.message}: ${e.details}` : e.message))
        .join('; ')}`,
  )
  // With node errors, the top-level details only repeat them.
  let head =
    typeof error === 'string'
      ? error
      : `${error.message} (${error.type})${nodes.length === 0 && error.details ? `: ${error.details}` : ''}`
  if (promptId !== undefined) head = `prompt ${promptId}: ${head}`
  return [head, ...nodes].join('\n')
}

function cycleNodesOf(nodeErrors: Readonly<Record<string, NodeErrors>>): string[] | undefined {
  const cycle = new Set<string>()
  for (const [nodeId, { errors }] of Object.entries(nodeErrors)) {
    for (const { type, extra_info } of errors) {
      if (type !== 'dependency_cycle') continue
      const info = DependencyCycleInfo.decode(extra_info)
      for (const node of isRight(info) ? info.right.cycle_nodes : [nodeId]) cycle.add(node)
    }
  }
  return cycle.size === 0 ? undefined : [...cycle]
}

/** `invalid_prompt` of servers before `missing_node_type`: "Cannot execute because node X does not exist." */
const UNKNOWN_CLASS = /^Cannot execute because node (.+) does not exist\.$/
const NO_CLASS = /^Cannot execute because a node is missing the class_type property\.$/
/** Their `details`: "Node ID '#12'". */
const NODE_ID = /^Node ID '#(.*)'$/

function missingNodeTypeOf(error: PromptError): MissingNodeType | undefined {
  if (error.type === 'missing_node_type') {
    const decoded = MissingNodeTypeInfo.decode(error.extra_info ?? {})
    const info = isRight(decoded) ? decoded.right : {}
    const nodeId = info.node_id ?? nodeIdOf(error.details)
    return {
      ...(nodeId === undefined ? {} : { nodeId }),
      ...(typeof info.class_type === 'string' ? { classType: info.class_type } : {}),
      ...(typeof info.node_title === 'string' ? { nodeTitle: info.node_title } : {}),
    }
  }
  if (error.type !== 'invalid_prompt') return undefined
  const classType = UNKNOWN_CLASS.exec(error.message)?.[1]
  if (classType === undefined && !NO_CLASS.test(error.message)) return undefined
  const nodeId = nodeIdOf(error.details)
  return {
    ...(nodeId === undefined ? {} : { nodeId }),
    ...(classType === undefined ? {} : { classType }),
  }
}

function nodeIdOf(details: string | undefined): string | undefined {
  return details === undefined ? undefined : NODE_ID.exec(details)?.[1]
}
