import { isLink } from './ExecutionList.js'

// comfy_execution/caching.py CacheKeySetInputSignature: a node's cache key is its class, its
// IS_CHANGED value and its inputs (sorted by name), followed by the same for every ancestor, with
// links written as (ancestor index, output) so node ids do not matter.

type PromptNodes = Readonly<
  Record<string, { readonly class_type?: unknown; readonly inputs?: Record<string, unknown> }>
>

/** Cache signatures of every node in a prompt, by node id. */
export function nodeSignatures(
  prompt: PromptNodes,
  isChanged: (nodeId: string) => unknown,
): Map<string, string> {
  const signatures = new Map<string, string>()
  for (const nodeId of Object.keys(prompt)) {
    const ancestors: string[] = []
    const order = new Map<string, number>()
    const visit = (id: string) => {
      const inputs = prompt[id]?.inputs ?? {}
      for (const key of Object.keys(inputs).sort()) {
        const value = inputs[key]
        if (!isLink(value) || order.has(value[0])) continue
        ancestors.push(value[0])
        order.set(value[0], ancestors.length - 1)
        visit(value[0])
      }
    }
    visit(nodeId)
    const immediate = (id: string) => {
      const node = prompt[id]
      if (node === undefined) return null
      const inputs = node.inputs ?? {}
      return [
        node.class_type,
        isChanged(id) ?? null,
        ...Object.keys(inputs)
          .sort()
          .map((key) => {
            const value = inputs[key]
            return isLink(value) ? [key, 'ANCESTOR', order.get(value[0]), value[1]] : [key, value]
          }),
      ]
    }
    signatures.set(nodeId, JSON.stringify([immediate(nodeId), ...ancestors.map(immediate)]))
  }
  return signatures
}
