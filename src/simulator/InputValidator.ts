import { inputTypesOf } from './inputTypesOf.js'
import { isDict, PyException, pyFrame, pyRepr, pyStr, pyTypeName } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { Validated, ValidationError } from './ValidationError.js'
import { widgetValueError } from './widgetValueError.js'
import type { InputConfig } from './widgetValueError.js'

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

/**
 * execution.validate_inputs over a prompt: validates a node and, through its links, everything
 * upstream of it, remembering each node's result as ComfyUI's `validated` dict does.
 */
export class InputValidator {
  private readonly validated = new Map<string, Validated>()
  /** The nodes being validated, outermost first: a link back to one of them closes a cycle. */
  private readonly visiting: string[] = []

  constructor(
    private readonly prompt: Record<string, unknown>,
    private readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
    private readonly version: SimulatedComfyVersion,
  ) {}

  private nodeType(id: string): SimulatedNodeType {
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
      const info: InputConfig = [inputType, extraInfo]
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
      const val = inputs[x]
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

      const error = widgetValueError(inputs, x, info, x in custom)
      if (error !== undefined) errors.push(error)
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
