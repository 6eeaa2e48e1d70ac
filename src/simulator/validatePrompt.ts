import {
  isDict,
  PyException,
  pyFloat,
  pyFloatOf,
  pyFrame,
  pyInt,
  pyRepr,
  pyStr,
  pyTruthy,
  pyTypeName,
} from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeInputs, SimulatedNodeType } from './SimulatedNodeType.js'

// A port of ComfyUI 0.3.64's execution.validate_prompt / validate_inputs, control flow included:
// which node an error is charged to, and the shape of every error, follow the Python code, so the
// 400 bodies match the recorded ones. Version 0.33 adds two checks of later releases:
// missing_node_type (v0.12.0) and dependency_cycle (v0.20.0).

/** One entry of `error` or `node_errors[id].errors` in a 400 body. */
export interface ValidationError {
  readonly type: string
  readonly message: string
  readonly details: string
  readonly extra_info: Record<string, unknown>
}

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

type Validated = readonly [valid: boolean, reasons: ValidationError[], id: string]

/** Resolves a node type's inputs (a function for lists that change, like uploaded files). */
export function inputTypesOf(nodeType: SimulatedNodeType): SimulatedNodeInputs {
  const input = nodeType.input ?? {}
  return typeof input === 'function' ? input() : input
}

// graph_utils / execution.validate_node_input: '*' matches anything, comma lists match if they
// share a type.
function typesMatch(received: unknown, expected: unknown): boolean {
  if (received === expected) return true
  if (typeof received !== 'string' || typeof expected !== 'string') {
    // A combo input accepts a link from a node that outputs a COMBO or anything.
    return Array.isArray(expected) && (received === 'COMBO' || received === '*')
  }
  const r = new Set(received.split(',').map((s) => s.trim()))
  const e = new Set(expected.split(',').map((s) => s.trim()))
  if (r.has('*') || e.has('*')) return true
  return [...r].some((t) => e.has(t))
}

const INNER_FRAME = pyFrame(
  'ComfyUI/execution.py',
  808,
  'validate_inputs',
  'r = await validate_inputs(prompt_id, prompt, o_id, validated)',
)

class Validator {
  private readonly validated = new Map<string, Validated>()
  /** The nodes being validated, outermost first: a link back to one of them closes a cycle. */
  private readonly visiting: string[] = []

  constructor(
    private readonly prompt: Record<string, unknown>,
    private readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
    private readonly version: SimulatedComfyVersion,
  ) {}

  nodeType(id: string): SimulatedNodeType {
    const node = this.prompt[id] as Record<string, unknown>
    return this.nodeTypes.get(node['class_type'] as string) as SimulatedNodeType
  }

  get results(): ReadonlyMap<string, Validated> {
    return this.validated
  }

  record(id: string, result: Validated): void {
    this.validated.set(id, result)
  }

  // validate_inputs: returns (valid, errors, id), or throws the exception Python would raise
  // outside its try blocks (a missing linked node, a bad output index), which the caller charges
  // to this node as exception_during_inner_validation.
  validate(id: string): Validated {
    const done = this.validated.get(id)
    if (done !== undefined) return done
    if (this.visiting.includes(id)) {
      if (this.version === '0.33') return this.cycle(id)
      // 0.3.64 recurses until Python's stack runs out.
      throw new PyException('RecursionError', 'maximum recursion depth exceeded', [INNER_FRAME])
    }
    this.visiting.push(id)
    try {
      return this.validateUncached(id)
    } finally {
      this.visiting.pop()
    }
  }

  // Every node of the cycle gets the same dependency_cycle error; the validation of the nodes on
  // the way back joins its own errors to it.
  private cycle(id: string): Validated {
    const path = [...this.visiting.slice(this.visiting.indexOf(id)), id]
    const cycleNodes = [...new Set(path)]
    const details = path
      .map((n) => `${n} (${pyStr((this.prompt[n] as Record<string, unknown>)['class_type'])})`)
      .join(' -> ')
    for (const nodeId of cycleNodes) {
      this.validated.set(nodeId, [
        false,
        [
          {
            type: 'dependency_cycle',
            message: 'Dependency cycle detected',
            details,
            extra_info: { node_id: nodeId, cycle_nodes: cycleNodes },
          },
        ],
        nodeId,
      ])
    }
    return this.validated.get(id) as Validated
  }

  private validateUncached(id: string): Validated {
    const node = this.prompt[id] as Record<string, unknown>
    if (!('inputs' in node)) {
      throw new PyException('KeyError', "'inputs'", [
        pyFrame(
          'ComfyUI/execution.py',
          747,
          'validate_inputs',
          "inputs = prompt[unique_id]['inputs']",
        ),
      ])
    }
    const inputs = node['inputs']
    if (!isDict(inputs)) {
      throw new PyException(
        'AttributeError',
        `'${pyTypeName(inputs)}' object has no attribute 'get'`,
      )
    }
    const nodeType = this.nodeType(id)
    const declared = inputTypesOf(nodeType)
    const custom = nodeType.validateInputs ?? {}
    const errors: ValidationError[] = []
    let valid = true

    const specs = [
      ...Object.entries(declared.required ?? {}).map(
        ([name, spec]) => [name, spec, 'required'] as const,
      ),
      ...Object.entries(declared.optional ?? {}).map(
        ([name, spec]) => [name, spec, 'optional'] as const,
      ),
    ]
    for (const [x, spec, category] of specs) {
      const inputType = spec[0]
      const extraInfo: Record<string, unknown> = { ...(spec[1] ?? {}) }
      const info = [inputType, extraInfo]
      if (!(x in inputs)) {
        if (category === 'required') {
          errors.push({
            type: 'required_input_missing',
            message: 'Required input is missing',
            details: x,
            extra_info: { input_name: x },
          })
        }
        continue
      }
      let val = inputs[x]
      if (Array.isArray(val)) {
        if (val.length !== 2) {
          errors.push({
            type: 'bad_linked_input',
            message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
            details: x,
            extra_info: { input_name: x, input_config: info, received_value: val },
          })
          continue
        }
        const receivedType = this.receivedType(val)
        if (!typesMatch(receivedType, inputType)) {
          errors.push({
            type: 'return_type_mismatch',
            message: 'Return type mismatch between linked nodes',
            details: `${x}, received_type(${pyStr(receivedType)}) mismatch input_type(${pyStr(inputType)})`,
            extra_info: {
              input_name: x,
              input_config: info,
              received_type: receivedType,
              linked_node: val,
            },
          })
          continue
        }
        const linked = val[0] as string
        try {
          const r = this.validate(linked)
          if (!r[0]) valid = false
        } catch (error) {
          if (!(error instanceof PyException)) throw error
          valid = false
          this.validated.set(linked, [
            false,
            [
              {
                type: 'exception_during_inner_validation',
                message: 'Exception when validating inner node',
                details: error.message,
                extra_info: {
                  input_name: x,
                  input_config: info,
                  exception_message: error.message,
                  exception_type: error.type,
                  traceback: [INNER_FRAME, ...error.traceback],
                  linked_node: val,
                },
              },
            ],
            linked,
          ])
        }
        continue
      }

      try {
        if (isDict(val) && '__value__' in val) {
          val = val['__value__']
          inputs[x] = val
        }
        if (inputType === 'INT') val = pyInt(val)
        if (inputType === 'FLOAT') val = pyFloatOf(val)
        if (inputType === 'STRING') val = pyStr(val)
        if (inputType === 'BOOLEAN') val = pyTruthy(val)
        inputs[x] = val
      } catch (error) {
        if (!(error instanceof PyException)) throw error
        errors.push({
          type: 'invalid_input_type',
          message: `Failed to convert an input value to a ${pyStr(inputType)} value`,
          details: `${x}, ${pyStr(val)}, ${error.message}`,
          extra_info: {
            input_name: x,
            input_config: info,
            received_value: val,
            exception_message: error.message,
          },
        })
        continue
      }

      if (x in custom) continue
      const show = (v: unknown) =>
        inputType === 'FLOAT' && typeof v === 'number' ? pyFloat(v) : pyStr(v)
      if ('min' in extraInfo && typeof val === 'number' && val < (extraInfo['min'] as number)) {
        errors.push({
          type: 'value_smaller_than_min',
          message: `Value ${show(val)} smaller than min of ${show(extraInfo['min'])}`,
          details: x,
          extra_info: { input_name: x, input_config: info, received_value: val },
        })
        continue
      }
      if ('max' in extraInfo && typeof val === 'number' && val > (extraInfo['max'] as number)) {
        errors.push({
          type: 'value_bigger_than_max',
          message: `Value ${show(val)} bigger than max of ${show(extraInfo['max'])}`,
          details: x,
          extra_info: { input_name: x, input_config: info, received_value: val },
        })
        continue
      }
      if (Array.isArray(inputType) && !inputType.includes(val)) {
        // ComfyUI leaves long lists (scanned model files) out of the answer.
        const long = inputType.length > 20
        errors.push({
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: `${x}: '${pyStr(val)}' not in ${long ? `(list of length ${inputType.length})` : pyRepr(inputType)}`,
          extra_info: { input_name: x, input_config: long ? null : info, received_value: val },
        })
        continue
      }
    }

    for (const [x, check] of Object.entries(custom)) {
      if (!(x in inputs) || Array.isArray(inputs[x])) continue
      const r = check(inputs[x])
      if (r !== true) {
        errors.push({
          type: 'custom_validation_failed',
          message: 'Custom validation failed for node',
          details: r === false ? x : `${x} - ${r}`,
          extra_info: { input_name: x },
        })
      }
    }

    const result: Validated =
      this.version === '0.33'
        ? this.joinCycleError(id, valid, errors)
        : errors.length > 0 || !valid
          ? [false, errors, id]
          : [true, [], id]
    this.validated.set(id, result)
    return result
  }

  // "Recursive cycle detection may have already populated an error on us. Join it."
  private joinCycleError(id: string, valid: boolean, errors: ValidationError[]): Validated {
    const [priorValid, priorErrors] = this.validated.get(id) ?? [true, [], id]
    return [priorValid && valid && errors.length === 0, [...priorErrors, ...errors], id]
  }

  // `o_class_type = prompt[o_id]['class_type']; received_type = RETURN_TYPES[val[1]]`, with the
  // KeyError / IndexError / TypeError Python raises for a missing node or a bad index.
  private receivedType(link: unknown[]): unknown {
    const [from, index] = link
    const lookup = pyFrame(
      'ComfyUI/execution.py',
      788,
      'validate_inputs',
      "o_class_type = prompt[o_id]['class_type']",
    )
    if (Array.isArray(from) || isDict(from)) {
      throw new PyException('TypeError', `unhashable type: '${pyTypeName(from)}'`, [lookup])
    }
    if (typeof from !== 'string' || !(from in this.prompt)) {
      throw new PyException('KeyError', pyRepr(from), [lookup])
    }
    const outputs = this.nodeType(from).output ?? []
    const indexFrame = pyFrame(
      'ComfyUI/execution.py',
      790,
      'validate_inputs',
      'received_type = r[val[1]]',
    )
    if (typeof index !== 'number' || !Number.isInteger(index)) {
      throw new PyException(
        'TypeError',
        `tuple indices must be integers or slices, not ${pyTypeName(index)}`,
        [indexFrame],
      )
    }
    const i = index < 0 ? outputs.length + index : index
    if (i < 0 || i >= outputs.length) {
      throw new PyException('IndexError', 'tuple index out of range', [indexFrame])
    }
    return outputs[i]
  }
}

const notIterable = (value: unknown) =>
  !isDict(value) && !Array.isArray(value) && typeof value !== 'string'

// 0.3.64: a node without class_type, or of an unknown class, is an invalid_prompt.
function invalidPrompt(
  x: string,
  node: unknown,
  nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
): ValidationError | undefined {
  // `'class_type' not in prompt[x]` raises for numbers and None; lists and strings just lack it.
  if (notIterable(node)) {
    throw new PyException('TypeError', `argument of type '${pyTypeName(node)}' is not iterable`)
  }
  if (!isDict(node) || !('class_type' in node)) {
    return {
      type: 'invalid_prompt',
      message: 'Cannot execute because a node is missing the class_type property.',
      details: `Node ID '#${x}'`,
      extra_info: {},
    }
  }
  const classType = node['class_type']
  if (typeof classType === 'string' && nodeTypes.has(classType)) return undefined
  return {
    type: 'invalid_prompt',
    message: `Cannot execute because node ${pyStr(classType)} does not exist.`,
    details: `Node ID '#${x}'`,
    extra_info: {},
  }
}

// `node_data.get('_meta', {})`: raises unless the node and its _meta are dicts.
function metaOf(node: unknown): Record<string, unknown> {
  if (!isDict(node)) {
    throw new PyException('AttributeError', `'${pyTypeName(node)}' object has no attribute 'get'`)
  }
  const meta = '_meta' in node ? node['_meta'] : {}
  if (!isDict(meta)) {
    throw new PyException('AttributeError', `'${pyTypeName(meta)}' object has no attribute 'get'`)
  }
  return meta
}

// 0.33 (v0.12.0): the same two cases are a missing_node_type that names the node by its title.
function missingNodeType(
  x: string,
  node: unknown,
  nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
): ValidationError | undefined {
  if (notIterable(node)) {
    throw new PyException('TypeError', `argument of type '${pyTypeName(node)}' is not iterable`)
  }
  // A list or a string lacks class_type too, and then fails on `.get`.
  if (!isDict(node) || !('class_type' in node)) {
    const title = metaOf(node)['title'] ?? null
    return {
      type: 'missing_node_type',
      message: `Node '${pyTruthy(title) ? pyStr(title) : `ID #${x}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`,
      details: `Node ID '#${x}'`,
      extra_info: { node_id: x, class_type: null, node_title: title },
    }
  }
  const classType = node['class_type']
  if (typeof classType === 'string' && nodeTypes.has(classType)) return undefined
  const meta = metaOf(node)
  const title = 'title' in meta ? meta['title'] : classType
  return {
    type: 'missing_node_type',
    message: `Node '${pyStr(title)}' not found. The custom node may not be installed.`,
    details: `Node ID '#${x}'`,
    extra_info: { node_id: x, class_type: classType, node_title: title },
  }
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
  const unknownNode = version === '0.33' ? missingNodeType : invalidPrompt
  const outputs: string[] = []
  for (const [x, node] of Object.entries(prompt)) {
    const error = unknownNode(x, node, nodeTypes)
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

  const validator = new Validator(prompt, nodeTypes, version)
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
