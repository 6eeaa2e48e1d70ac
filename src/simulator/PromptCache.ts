import { isLink } from './ExecutionList.js'
import type { CachedUi, ExecutionEnv } from './ExecutionEnv.js'
import { nodeSignatures } from './nodeSignature.js'
import type { ApiPrompt } from './PromptQueue.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

/**
 * One prompt's view of the execution cache (ComfyUI's classic cache): the cache signatures of its
 * nodes, the outputs they produce or find cached, and the UI dicts its history entry shows.
 * Creating it does set_prompt: the cache keeps only what this prompt's nodes could use.
 */
export class PromptCache {
  private readonly signatures: ReadonlyMap<string, string>
  private readonly values = new Map<string, readonly unknown[]>()
  // ui_node_outputs: the UI of what ran or was re-sent from cache in this prompt, which is what
  // history holds after 0.3.64 (0.3.64 took every node of the prompt with a cached UI).
  private readonly uiOutputs = new Map<string, CachedUi>()

  constructor(
    private readonly env: ExecutionEnv,
    private readonly prompt: ApiPrompt,
    nodeType: (id: string) => SimulatedNodeType,
  ) {
    // IsChangedCache: IS_CHANGED runs once per node before anything executes, so it sees widget
    // values only; an exception counts as NaN (run every time).
    const changedValues = new Map<string, unknown>()
    const changedValue = (id: string) => {
      const isChanged = nodeType(id).isChanged
      if (isChanged === undefined) return null
      const widgets = Object.entries(prompt[id]?.inputs ?? {}).filter(([, v]) => !isLink(v))
      try {
        return isChanged(Object.fromEntries(widgets))
      } catch {
        return Number.NaN
      }
    }
    this.signatures = nodeSignatures(prompt, (id) => {
      if (!changedValues.has(id)) changedValues.set(id, changedValue(id))
      return changedValues.get(id)
    })
    const keep = new Set(this.signatures.values())
    for (const map of [env.cache.outputs, env.cache.ui]) {
      for (const key of map.keys()) if (!env.cacheEnabled || !keep.has(key)) map.delete(key)
    }
  }

  isCached(id: string): boolean {
    return this.env.cacheEnabled && this.env.cache.outputs.has(this.sig(id))
  }

  /** A node's inputs: values as the prompt gives them, links replaced by upstream outputs. */
  inputsOf(id: string): Record<string, unknown> {
    const resolved: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(this.prompt[id]?.inputs ?? {})) {
      resolved[name] = isLink(value) ? this.outputsOf(value[0])?.[value[1]] : value
    }
    return resolved
  }

  /** Keeps the UI dict a node returned, for history and for the next prompts. */
  storeUi(nodeId: string, output: unknown): void {
    const entry: CachedUi = {
      output,
      meta: { node_id: nodeId, display_node: nodeId, parent_node: null, real_node_id: nodeId },
    }
    this.env.cache.ui.set(this.sig(nodeId), entry)
    this.uiOutputs.set(nodeId, entry)
  }

  /** Keeps the outputs a node returned, for its downstream nodes and for the next prompts. */
  storeOutputs(nodeId: string, outputs: readonly unknown[]): void {
    this.values.set(nodeId, outputs)
    this.env.cache.outputs.set(this.sig(nodeId), outputs)
  }

  /**
   * The cached UI dict of a node that is not executed again, which history then shows; null when
   * it has none (_send_cached_ui sends that too).
   */
  reuseUi(nodeId: string): unknown {
    const ui = this.env.cache.ui.get(this.sig(nodeId))
    if (ui !== undefined) this.uiOutputs.set(nodeId, ui)
    return ui?.output ?? null
  }

  /** `outputs` and `meta` of the prompt's history entry. */
  history(): { outputs: Record<string, unknown>; meta: Record<string, unknown> } {
    const historyUi =
      this.env.version === '0.33'
        ? [...this.uiOutputs]
        : Object.keys(this.prompt).flatMap((id) => {
            const ui = this.env.cache.ui.get(this.sig(id))
            return ui === undefined ? [] : [[id, ui] as const]
          })
    const outputs: Record<string, unknown> = {}
    const meta: Record<string, unknown> = {}
    for (const [id, ui] of historyUi) {
      outputs[id] = ui.output
      meta[id] = ui.meta
    }
    return { outputs, meta }
  }

  private sig(id: string): string {
    return this.signatures.get(id) ?? `missing:${id}`
  }

  private outputsOf(id: string): readonly unknown[] | undefined {
    return this.values.get(id) ?? this.env.cache.outputs.get(this.sig(id))
  }
}
