import { classTypeError } from './classTypeError.js'
import { InputValidator } from './InputValidator.js'
import { isDict, PyException, pyTypeName } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { ValidationError } from './ValidationError.js'

// A port of ComfyUI 0.3.64's execution.validate_prompt / validate_inputs, control flow included:
// which node an error is charged to, and the shape of every error, follow the Python code, so the
// 400 bodies match the recorded ones. Version 0.33 adds two checks of later releases:
// missing_node_type (v0.12.0) and dependency_cycle (v0.20.0).

/** `node_errors[id]` of a POST /prompt answer. */
export interface NodeErrors {
  readonly errors: ValidationError[]
  readonly dependent_outputs: string[]
  readonly class_type: unknown
}

/** What validation decided: the outputs to execute, or the error for a 400. */
export type ValidationOutcome =
  | {
      readonly ok: true
      readonly outputs: string[]
      readonly nodeErrors: Record<string, NodeErrors>
    }
  | {
      readonly ok: false
      readonly error: ValidationError
      readonly nodeErrors: Record<string, NodeErrors>
    }

/**
 * Validates an API-format prompt like the ComfyUI `version` does. Throws a PyException where the
 * real server would answer 500 (a prompt or node that is not an object).
 */
export function validatePrompt(
  prompt: unknown,
  nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
  partialExecutionTargets: readonly unknown[] | undefined,
  version: SimulatedComfyVersion,
): ValidationOutcome {
  if (!isDict(prompt)) {
    throw new PyException('TypeError', `'${pyTypeName(prompt)}' object is not subscriptable`)
  }
  const outputs: string[] = []
  for (const [x, node] of Object.entries(prompt)) {
    const error = classTypeError(x, node, nodeTypes, version)
    if (error !== undefined) return { ok: false, error, nodeErrors: {} }
    // A known class, by now.
    const nodeType = nodeTypes.get((node as { class_type: string }).class_type) as SimulatedNodeType
    if (nodeType.outputNode === true) {
      if (partialExecutionTargets === undefined || partialExecutionTargets.includes(x))
        outputs.push(x)
    }
  }
  if (outputs.length === 0) {
    return {
      ok: false,
      error: {
        type: 'prompt_no_outputs',
        message: 'Prompt has no outputs',
        details: '',
        extra_info: {},
      },
      nodeErrors: {},
    }
  }

  const validator = new InputValidator(prompt, nodeTypes, version)
  const good: string[] = []
  const failed: [string, ValidationError[]][] = []
  const nodeErrors: Record<string, NodeErrors> = {}
  for (const o of outputs) {
    let valid = false
    let reasons: ValidationError[] = []
    try {
      ;[valid, reasons] = validator.validate(o)
    } catch (error) {
      if (!(error instanceof PyException)) throw error
      reasons = [
        {
          type: 'exception_during_validation',
          message: 'Exception when validating node',
          details: error.message,
          extra_info: { exception_type: error.type, traceback: [...error.traceback] },
        },
      ]
      validator.record(o, [false, reasons, o])
    }
    if (valid) {
      good.push(o)
      continue
    }
    failed.push([o, reasons])
    // As in ComfyUI, every failed node seen so far gets this output appended, whether or not it
    // is upstream of it.
    for (const [nodeId, [ok, nodeReasons]] of validator.results) {
      if (ok || nodeReasons.length === 0) continue
      const entry = (nodeErrors[nodeId] ??= {
        errors: nodeReasons,
        dependent_outputs: [],
        class_type: (prompt[nodeId] as Record<string, unknown>)['class_type'],
      })
      entry.dependent_outputs.push(o)
    }
  }

  if (good.length === 0) {
    const details = failed
      .flatMap(([, errors]) => errors.map((e) => `${e.message}: ${e.details}`))
      .join('\n')
    return {
      ok: false,
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details,
        extra_info: {},
      },
      nodeErrors,
    }
  }
  return { ok: true, outputs: good, nodeErrors }
}
