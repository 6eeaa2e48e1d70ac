import { randomUUID } from 'node:crypto'
import { isLink } from './ExecutionList.js'

// comfy_execution/caching.py CacheKeySetInputSignature: a node's cache key is its class, its
// IS_CHANGED value and its inputs (sorted by name), followed by the same for every ancestor, with
// links written as (ancestor index, output) so node ids do not matter.

type PromptNodes = Readonly<
  Record<string, { readonly class_type?: unknown; readonly inputs?: Record<string, unknown> }>
>

// Python compares signatures with ==, and an IS_CHANGED of float('nan') is equal to nothing, not
// even itself: a signature holding one never matches a cached entry, so that node and everything
// downstream of it run every time. A JSON string cannot say that, so such a signature gets a
// suffix no other signature has.
const neverEqual = (value: unknown) => typeof value === 'number' && Number.isNaN(value)

/**
 * Cache signatures of every node in a prompt, by node id. `isChanged` is asked for each node once
 * per signature it appears in; give it a memo when the value is costly or must not change.
 */
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
    let unique = false
    const immediate = (id: string) => {
      const node = prompt[id]
      if (node === undefined) return null
      const inputs = node.inputs ?? {}
      const changed = isChanged(id)
      if (neverEqual(changed)) unique = true
      return [
        node.class_type,
        changed ?? null,
        ...Object.keys(inputs)
          .sort()
          .map((key) => {
            const value = inputs[key]
            return isLink(value) ? [key, 'ANCESTOR', order.get(value[0]), value[1]] : [key, value]
          }),
      ]
    }
    const signature = JSON.stringify([immediate(nodeId), ...ancestors.map(immediate)])
    signatures.set(nodeId, unique ? `${signature}#${randomUUID()}` : signature)
  }
  return signatures
}
