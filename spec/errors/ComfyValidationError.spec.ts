import { describe, expect, it } from 'vitest'
import { ComfyValidationError } from '../../src/errors/ComfyValidationError.js'

describe('ComfyValidationError', () => {
  it('is built as before from an error and node errors, with no prompt id', () => {
    const error = new ComfyValidationError('invalid prompt', {})
    expect(error.name).toBe('ComfyValidationError')
    expect(error.message).toBe('invalid prompt')
    expect(error.promptId).toBeUndefined()
    expect(error.type).toBeUndefined()
    expect(error.cycleNodes).toBeUndefined()
    expect(error.missingNodeType).toBeUndefined()
  })

  it('names the prompt id it is given, first in its message', () => {
    const error = new ComfyValidationError(
      { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} },
      {},
      '0c6e1c55-8c43-4f4b-9f1e-0a1e6a7f9b10',
    )
    expect(error.promptId).toBe('0c6e1c55-8c43-4f4b-9f1e-0a1e6a7f9b10')
    expect(error.type).toBe('prompt_no_outputs')
    expect(error.message).toBe(
      'prompt 0c6e1c55-8c43-4f4b-9f1e-0a1e6a7f9b10: Prompt has no outputs (prompt_no_outputs)',
    )
  })

  it('reads a missing node type from an error whose extra_info has the wrong types', () => {
    const error = new ComfyValidationError(
      {
        type: 'missing_node_type',
        message: "Node 'X' not found. The custom node may not be installed.",
        details: "Node ID '#3'",
        extra_info: { node_id: 3, class_type: ['X'] },
      },
      {},
    )
    expect(error.missingNodeType).toEqual({ nodeId: '3' })
  })
})
