import { describe, expect, it } from 'vitest'
import { ComfyError } from '../../src/errors/ComfyError.js'
import { ComfyValidationError } from '../../src/errors/ComfyValidationError.js'
import { promptRejectionError } from '../../src/errors/promptRejectionError.js'

const PROMPT_ID = 'not-a-uuid'

/** The 400 of `server.py` `post_prompt` for a prompt_id that is not a canonical UUID (v0.25.0). */
const invalidPromptId = {
  error: {
    type: 'invalid_prompt_id',
    message: 'prompt_id must be a valid UUID',
    details:
      'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
    extra_info: {},
  },
  node_errors: {},
}

/** `validate_prompt` (execution.py) for a node of a class the server does not have. */
const missingNodeType = {
  error: {
    type: 'missing_node_type',
    message: "Node 'Combine video' not found. The custom node may not be installed.",
    details: "Node ID '#14'",
    extra_info: { node_id: '14', class_type: 'VHS_VideoCombine', node_title: 'Combine video' },
  },
  node_errors: {},
}

/** The same, for a node that has no `class_type` at all, nor a title. */
const missingClassType = {
  error: {
    type: 'missing_node_type',
    message:
      "Node 'ID #7' has no class_type. The workflow may be corrupted or a custom node is missing.",
    details: "Node ID '#7'",
    extra_info: { node_id: '7', class_type: null, node_title: null },
  },
  node_errors: {},
}

/** What servers before `missing_node_type` answered for an unknown class. */
const oldUnknownClass = {
  error: {
    type: 'invalid_prompt',
    message: 'Cannot execute because node VHS_VideoCombine does not exist.',
    details: "Node ID '#14'",
    extra_info: {},
  },
  node_errors: {},
}

const cycleError = (nodeId: string) => ({
  type: 'dependency_cycle',
  message: 'Dependency cycle detected',
  details: '4 (KSampler) -> 7 (VAEDecode) -> 4 (KSampler)',
  extra_info: { node_id: nodeId, cycle_nodes: ['4', '7'] },
})

/** `validate_inputs` (v0.20.0) marks every node of a cycle; no output is left to run. */
const dependencyCycle = {
  error: {
    type: 'prompt_outputs_failed_validation',
    message: 'Prompt outputs failed validation',
    details:
      'Dependency cycle detected: 4 (KSampler) -> 7 (VAEDecode) -> 4 (KSampler)\nDependency cycle detected: 4 (KSampler) -> 7 (VAEDecode) -> 4 (KSampler)',
    extra_info: {},
  },
  node_errors: {
    '4': { errors: [cycleError('4')], dependent_outputs: ['9'], class_type: 'KSampler' },
    '7': { errors: [cycleError('7')], dependent_outputs: ['9'], class_type: 'VAEDecode' },
  },
}

/** An ordinary validation failure, for contrast. */
const valueNotInList = {
  error: {
    type: 'prompt_outputs_failed_validation',
    message: 'Prompt outputs failed validation',
    details: "Value not in list: ckpt_name: 'sd_xl.safetensors' not in (list of length 37)",
    extra_info: {},
  },
  node_errors: {
    '4': {
      errors: [
        {
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: "ckpt_name: 'sd_xl.safetensors' not in (list of length 37)",
          extra_info: {
            input_name: 'ckpt_name',
            input_config: null,
            received_value: 'sd_xl.safetensors',
          },
        },
      ],
      dependent_outputs: ['9'],
      class_type: 'CheckpointLoaderSimple',
    },
  },
}

function rejection(body: unknown): ComfyValidationError {
  const error = promptRejectionError(JSON.stringify(body), PROMPT_ID)
  expect(error).toBeInstanceOf(ComfyValidationError)
  expect(error).toBeInstanceOf(ComfyError)
  return error!
}

describe('promptRejectionError', () => {
  it('reads invalid_prompt_id as a request error naming the prompt id asked for', () => {
    const error = rejection(invalidPromptId)
    expect(error.type).toBe('invalid_prompt_id')
    expect(error.promptId).toBe(PROMPT_ID)
    expect(error.status).toBe(400)
    expect(error.nodeErrors).toEqual({})
    expect(error.message).toBe(
      'prompt not-a-uuid: prompt_id must be a valid UUID (invalid_prompt_id): prompt_id must be a ' +
        'UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
    )
    expect(error.cycleNodes).toBeUndefined()
    expect(error.missingNodeType).toBeUndefined()
  })

  it('reads missing_node_type with the node, its class and its title', () => {
    const error = rejection(missingNodeType)
    expect(error.type).toBe('missing_node_type')
    expect(error.missingNodeType).toEqual({
      nodeId: '14',
      classType: 'VHS_VideoCombine',
      nodeTitle: 'Combine video',
    })
    expect(error.message).toContain("Node 'Combine video' not found")
    expect(error.message).toContain("Node ID '#14'")
    expect(error.cycleNodes).toBeUndefined()
  })

  it('reads missing_node_type for a node with no class_type, leaving out the nulls', () => {
    expect(rejection(missingClassType).missingNodeType).toEqual({ nodeId: '7' })
  })

  it('takes the node id from details when extra_info does not say it', () => {
    const body = { ...missingNodeType, error: { ...missingNodeType.error, extra_info: {} } }
    expect(rejection(body).missingNodeType).toEqual({ nodeId: '14' })
  })

  it('reads the invalid_prompt of older servers about an unknown class as a missing node type', () => {
    const error = rejection(oldUnknownClass)
    expect(error.type).toBe('invalid_prompt')
    expect(error.missingNodeType).toEqual({ nodeId: '14', classType: 'VHS_VideoCombine' })
  })

  it('reads the invalid_prompt of older servers about a node without class_type', () => {
    const body = {
      error: {
        type: 'invalid_prompt',
        message: 'Cannot execute because a node is missing the class_type property.',
        details: "Node ID '#7'",
        extra_info: {},
      },
      node_errors: {},
    }
    expect(rejection(body).missingNodeType).toEqual({ nodeId: '7' })
  })

  it('reads a dependency cycle as the nodes of the cycle, each once', () => {
    const error = rejection(dependencyCycle)
    expect(error.type).toBe('prompt_outputs_failed_validation')
    expect(error.cycleNodes).toEqual(['4', '7'])
    expect(error.missingNodeType).toBeUndefined()
    expect(error.message).toContain('node 4 KSampler: Dependency cycle detected: 4 (KSampler)')
  })

  it('reads the whole cycle from extra_info, even where one node of it is reported', () => {
    const body = { ...dependencyCycle, node_errors: { '7': dependencyCycle.node_errors['7'] } }
    expect(rejection(body).cycleNodes).toEqual(['4', '7'])
  })

  it('joins several cycles, and falls back to the node id where cycle_nodes is missing', () => {
    const body = {
      ...dependencyCycle,
      node_errors: {
        ...dependencyCycle.node_errors,
        '20': {
          errors: [{ ...cycleError('20'), extra_info: { node_id: '20' } }],
          dependent_outputs: ['21'],
          class_type: 'ImageScale',
        },
      },
    }
    expect(rejection(body).cycleNodes).toEqual(['4', '7', '20'])
  })

  it('carries the node errors of an ordinary validation failure, with no cycle or missing node', () => {
    const error = rejection(valueNotInList)
    expect(error.nodeErrors['4']?.errors[0]?.type).toBe('value_not_in_list')
    expect(error.cycleNodes).toBeUndefined()
    expect(error.missingNodeType).toBeUndefined()
    expect(error.message).toBe(
      'prompt not-a-uuid: Prompt outputs failed validation (prompt_outputs_failed_validation)\n' +
        "node 4 CheckpointLoaderSimple: Value not in list: ckpt_name: 'sd_xl.safetensors' not in (list of length 37)",
    )
  })

  it('accepts an error that is a plain string, which has no type', () => {
    const error = rejection({ error: 'Prompt outputs failed validation', node_errors: {} })
    expect(error.type).toBeUndefined()
    expect(error.message).toBe('prompt not-a-uuid: Prompt outputs failed validation')
  })

  it('accepts a rejection without node_errors', () => {
    expect(rejection({ error: invalidPromptId.error }).nodeErrors).toEqual({})
  })

  it.each([
    ['an empty body', ''],
    ['a proxy page', '<html><body>400 Bad Request</body></html>'],
    ['JSON without error', '{"detail":"bad request"}'],
    ['an error that is neither an object nor a string', '{"error":42,"node_errors":{}}'],
    ['an error object without message', '{"error":{"type":"x"},"node_errors":{}}'],
    ['a JSON array', '[]'],
  ])('answers undefined for %s', (_, body) => {
    expect(promptRejectionError(body, PROMPT_ID)).toBeUndefined()
  })
})
