import { isDict, PyException, pyStr, pyTruthy, pyTypeName } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { ValidationError } from './ValidationError.js'

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
 * The first stage of validate_prompt: the error of node `x` when it has no class_type or one the
 * server does not know, in the words of the ComfyUI `version`; undefined when its class is known.
 * Throws the PyException of a node Python cannot even look into (a number, null).
 */
export function classTypeError(
  x: string,
  node: unknown,
  nodeTypes: ReadonlyMap<string, SimulatedNodeType>,
  version: SimulatedComfyVersion,
): ValidationError | undefined {
  return version === '0.33'
    ? missingNodeType(x, node, nodeTypes)
    : invalidPrompt(x, node, nodeTypes)
}
