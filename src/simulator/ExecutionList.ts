// comfy_execution/graph.py's TopologicalSort + ExecutionList, reduced to what the simulator
// needs: the same DFS order of pending nodes and the same "UX friendly" pick, so nodes run in
// the order the real server runs them (VAELoader before EmptyLatentImage in progress.jsonl).

/** A link in an API-format prompt: `[sourceNodeId, outputIndex]`. */
export const isLink = (value: unknown): value is [string, number] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'string'

/** The nodes of one prompt still to execute, and which of them may run now. */
export class ExecutionList {
  private readonly pending = new Map<string, true>()
  private readonly blockCount = new Map<string, number>()
  private readonly blocking = new Map<string, Set<string>>()

  constructor(
    private readonly prompt: Readonly<
      Record<string, { readonly inputs?: Record<string, unknown> }>
    >,
    private readonly isCached: (nodeId: string) => boolean,
    private readonly isOutput: (nodeId: string) => boolean,
  ) {}

  /** Adds a node and every uncached node it depends on. */
  addNode(nodeId: string): void {
    const stack = [nodeId]
    const links: [string, string][] = []
    while (stack.length > 0) {
      const id = stack.pop() as string
      if (this.pending.has(id)) continue
      this.pending.set(id, true)
      this.blockCount.set(id, 0)
      this.blocking.set(id, new Set())
      for (const value of Object.values(this.prompt[id]?.inputs ?? {})) {
        if (!isLink(value)) continue
        if (!this.isCached(value[0])) stack.push(value[0])
        links.push([value[0], id])
      }
    }
    for (const [from, to] of links) {
      if (this.isCached(from)) continue
      this.addNode(from)
      const blocked = this.blocking.get(from) as Set<string>
      if (!blocked.has(to)) {
        blocked.add(to)
        this.blockCount.set(to, (this.blockCount.get(to) ?? 0) + 1)
      }
    }
  }

  /** Whether every node has executed. */
  get isEmpty(): boolean {
    return this.pending.size === 0
  }

  /** The node to execute next, or undefined when the rest are blocked (a dependency cycle). */
  next(): string | undefined {
    const ready = [...this.pending.keys()].filter((id) => this.blockCount.get(id) === 0)
    // ux_friendly_pick_node: an output node first, then a node feeding one, then one two hops away.
    const feeds = (id: string) => [...(this.blocking.get(id) ?? [])]
    return (
      ready.find((id) => this.isOutput(id)) ??
      ready.find((id) => feeds(id).some((b) => this.isOutput(b))) ??
      ready.find((id) => feeds(id).some((b) => feeds(b).some((c) => this.isOutput(c)))) ??
      ready[0]
    )
  }

  /** Marks a node executed, unblocking the nodes that wait for it. */
  complete(nodeId: string): void {
    this.pending.delete(nodeId)
    for (const blocked of this.blocking.get(nodeId) ?? []) {
      this.blockCount.set(blocked, (this.blockCount.get(blocked) ?? 1) - 1)
    }
    this.blocking.delete(nodeId)
  }

  /** The nodes still pending (for the dependency-cycle error). */
  remaining(): string[] {
    return [...this.pending.keys()]
  }
}
