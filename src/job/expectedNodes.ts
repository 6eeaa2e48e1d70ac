import type { Workflow } from './Workflow.js'

/** Class types that are output nodes in stock ComfyUI (`output_node: true` in /object_info). */
const OUTPUT_NODE_TYPES = new Set([
  'SaveImage',
  'PreviewImage',
  'SaveAnimatedWEBP',
  'SaveAnimatedPNG',
  'SaveImageWebsocket',
  'SaveLatent',
  'SaveVideo',
  'SaveWEBM',
  'SaveAudio',
  'SaveAudioMP3',
  'SaveAudioOpus',
  'PreviewAudio',
  'PreviewAny',
  'SaveGLB',
  'Preview3D',
])

/**
 * A node expected to run: its id, its class, and its step count when its inputs say (a sampler's
 * `steps`).
 */
export interface ExpectedNode {
  readonly id: string
  readonly classType: string
  readonly steps?: number
}

/**
 * Answers interned by content, so that the jobs of one graph share one list; bounded. A list, not
 * a Map: the measures of every message loop over it, and TurboFan compiles a loop over an array
 * for a fraction of one over a Map's iterator (a prompt of one long node runs mostly before its
 * code is optimized).
 */
const interned = new Map<string, readonly ExpectedNode[]>()
const INTERNED_LIMIT = 256

/**
 * The nodes expected to run (protocol §4.1), with their class and step count: the output nodes
 * and everything upstream of them, or every node when no known output type is present, in the
 * workflow's order. Shared: never changed.
 */
export function expectedNodes(workflow: Workflow): readonly ExpectedNode[] {
  const expected = nodesToRun(workflow)
  const key = expected.map((node) => `${node.id},${node.classType},${node.steps}`).join(';')
  const shared = interned.get(key)
  if (shared !== undefined) return shared
  if (interned.size >= INTERNED_LIMIT) interned.delete(interned.keys().next().value!)
  interned.set(key, expected)
  return expected
}

function nodesToRun(workflow: Workflow): ExpectedNode[] {
  const outputs = Object.keys(workflow).filter((id) =>
    OUTPUT_NODE_TYPES.has(workflow[id]!.class_type),
  )
  const ids = outputs.length === 0 ? Object.keys(workflow) : upstreamOf(workflow, outputs)
  return ids.map((id) => {
    const { class_type: classType, inputs } = workflow[id]!
    const steps = inputs['steps']
    return typeof steps === 'number' && steps > 0 ? { id, classType, steps } : { id, classType }
  })
}

function upstreamOf(workflow: Workflow, outputs: string[]): string[] {
  const seen = new Set<string>()
  const stack = [...outputs]
  while (stack.length > 0) {
    const id = stack.pop()!
    const node = workflow[id]
    if (seen.has(id) || node === undefined) continue
    seen.add(id)
    for (const value of Object.values(node.inputs)) {
      if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string')
        stack.push(value[0])
    }
  }
  return [...seen]
}
