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

/** Samplers report a step per tick and take most of a run's time: a heavier prior (§4.1). */
const SAMPLER_TYPES = new Set([
  'KSampler',
  'KSamplerAdvanced',
  'SamplerCustom',
  'SamplerCustomAdvanced',
])
const SAMPLER_WEIGHT = 10

/** Answers interned by content, so that the jobs of one graph share one Map; bounded. */
const interned = new Map<string, ReadonlyMap<string, number>>()
const INTERNED_LIMIT = 256

/**
 * The nodes expected to run and their weights (protocol §4.1): the output nodes and everything
 * upstream of them, or every node when no known output type is present. Shared: copy it to
 * change it.
 */
export function expectedNodes(workflow: Workflow): ReadonlyMap<string, number> {
  const expected = nodesToRun(workflow)
  const key = [...expected].join(';')
  const shared = interned.get(key)
  if (shared !== undefined) return shared
  if (interned.size >= INTERNED_LIMIT) interned.delete(interned.keys().next().value!)
  interned.set(key, expected)
  return expected
}

function nodesToRun(workflow: Workflow): Map<string, number> {
  const outputs = Object.keys(workflow).filter((id) =>
    OUTPUT_NODE_TYPES.has(workflow[id]!.class_type),
  )
  const ids = outputs.length === 0 ? Object.keys(workflow) : upstreamOf(workflow, outputs)
  return new Map(
    ids.map((id) => [id, SAMPLER_TYPES.has(workflow[id]!.class_type) ? SAMPLER_WEIGHT : 1]),
  )
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
