import { executorFrames } from './executorFrames.js'
import { inputTypesOf } from './inputTypesOf.js'
import type { QueueItem } from './PromptQueue.js'
import { PyException, pyFrame, pyRepr } from './python.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

/** What execution_error says about the exception a node raised. */
export interface NodeErrorReport {
  readonly message: string
  readonly type: string
  readonly traceback: readonly string[]
  /** current_inputs */
  readonly inputs: Record<string, unknown>
}

// execution.format_value: primitives as they are, anything else as its str().
function formatValue(value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (['string', 'number', 'boolean'].includes(typeof value)) return value
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' ? `<${type} object>` : pyRepr(value)
}

// get_input_data + format_value: declared inputs present in the prompt, then hidden ones.
function currentInputs(
  nodeType: SimulatedNodeType,
  nodeId: string,
  inputs: Record<string, unknown>,
  item: QueueItem,
) {
  const declared = inputTypesOf(nodeType)
  const out: Record<string, unknown> = {}
  for (const name of [
    ...Object.keys(declared.required ?? {}),
    ...Object.keys(declared.optional ?? {}),
  ]) {
    if (name in inputs) out[name] = [formatValue(inputs[name])]
  }
  for (const [name, kind] of Object.entries(declared.hidden ?? {})) {
    if (kind === 'PROMPT') out[name] = [pyRepr(item.prompt)]
    if (kind === 'EXTRA_PNGINFO') out[name] = [formatValue(item.extraData['extra_pnginfo'])]
    if (kind === 'UNIQUE_ID') out[name] = [nodeId]
  }
  return out
}

/**
 * What execution_error reports for an exception a node raised: Python exceptions as they are,
 * JavaScript ones as `Exception` (or their own name), always with a traceback; and the inputs
 * the node was given.
 */
export function describeNodeError(
  error: unknown,
  nodeType: SimulatedNodeType,
  nodeId: string,
  inputs: Record<string, unknown>,
  item: QueueItem,
): NodeErrorReport {
  const nodeFrame = pyFrame(
    `ComfyUI/${(nodeType.pythonModule ?? 'custom_nodes.simulator').replaceAll('.', '/')}.py`,
    1,
    'execute',
    'raise',
  )
  const current = currentInputs(nodeType, nodeId, inputs, item)
  if (error instanceof SimulatedNodeError || error instanceof PyException) {
    return {
      message: error.message,
      type: error instanceof SimulatedNodeError ? error.exceptionType : error.type,
      traceback: error.traceback.length > 0 ? error.traceback : [...executorFrames, nodeFrame],
      inputs: current,
    }
  }
  const err = error instanceof Error ? error : new Error(String(error))
  return {
    message: err.message,
    type: err.name === 'Error' ? 'Exception' : err.name,
    traceback: [...executorFrames, nodeFrame],
    inputs: current,
  }
}
