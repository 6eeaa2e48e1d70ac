// execution.PromptQueue: a heap of pending prompts ordered by number, the one running prompt and
// the in-memory history. Every change of the queue calls `changed` (ComfyUI's queue_updated,
// which broadcasts `status`).

/** An API-format prompt: node id → `{class_type, inputs, _meta?}`. */
export type ApiPrompt = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>

/** One queued prompt, as ComfyUI keeps it. */
export interface QueueItem {
  readonly number: number
  readonly promptId: string
  readonly prompt: ApiPrompt
  readonly extraData: Record<string, unknown>
  readonly outputsToExecute: readonly string[]
}

/** A history entry, as GET /history answers it. */
export interface HistoryEntry {
  readonly prompt: readonly unknown[]
  readonly outputs: Record<string, unknown>
  readonly status: {
    readonly status_str: 'success' | 'error'
    readonly completed: boolean
    readonly messages: readonly (readonly [string, unknown])[]
  }
  readonly meta: Record<string, unknown>
}

const MAXIMUM_HISTORY_SIZE = 10000
/** The `extra_data` keys ComfyUI keeps out of history (and, since v0.3.68, out of `/queue`). */
export const SENSITIVE_EXTRA_DATA_KEYS: readonly string[] = [
  'auth_token_comfy_org',
  'api_key_comfy_org',
]

// Python compares queue tuples element-wise: number first, then prompt id.
const before = (a: QueueItem, b: QueueItem) =>
  a.number < b.number || (a.number === b.number && a.promptId < b.promptId)

/** The queue, the running prompt and the history of one server lifetime. */
export class PromptQueue {
  private readonly heap: QueueItem[] = []
  private running: QueueItem | undefined
  private readonly history = new Map<string, HistoryEntry>()

  constructor(private readonly changed: () => void) {}

  /** Pending plus running prompts (`queue_remaining`). */
  get remaining(): number {
    return this.heap.length + (this.running === undefined ? 0 : 1)
  }

  /** The prompt the worker is executing. */
  get current(): QueueItem | undefined {
    return this.running
  }

  /** Pending prompts in heap order (what GET /queue shows). */
  get pending(): readonly QueueItem[] {
    return this.heap
  }

  /** Pending prompt ids in the order they will run. */
  get pendingInRunOrder(): string[] {
    return [...this.heap].sort((a, b) => (before(a, b) ? -1 : 1)).map((item) => item.promptId)
  }

  put(item: QueueItem): void {
    this.heap.push(item)
    let i = this.heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(this.heap[i] as QueueItem, this.heap[parent] as QueueItem)) break
      this.swap(i, parent)
      i = parent
    }
    this.changed()
  }

  /** Takes the first pending prompt and marks it running. */
  take(): QueueItem | undefined {
    const top = this.heap[0]
    if (top === undefined) return undefined
    const last = this.heap.pop() as QueueItem
    if (this.heap.length > 0) {
      this.heap[0] = last
      this.siftDown(0)
    }
    this.running = top
    this.changed()
    return top
  }

  /** Records the running prompt's outcome in history and clears it. */
  done(item: QueueItem, result: Omit<HistoryEntry, 'prompt'>): void {
    this.running = undefined
    if (this.history.size > MAXIMUM_HISTORY_SIZE) {
      const oldest = this.history.keys().next().value
      if (oldest !== undefined) this.history.delete(oldest)
    }
    const extraData = { ...item.extraData }
    for (const k of SENSITIVE_EXTRA_DATA_KEYS) delete extraData[k]
    this.history.set(item.promptId, {
      prompt: [item.number, item.promptId, item.prompt, extraData, item.outputsToExecute],
      outputs: result.outputs,
      status: result.status,
      meta: result.meta,
    })
    this.changed()
  }

  /** Empties the pending queue (POST /queue {clear}). */
  wipe(): void {
    this.heap.length = 0
    this.changed()
  }

  /** Removes a pending prompt (POST /queue {delete}); `changed` only if it was there. */
  delete(promptId: unknown): boolean {
    const i = this.heap.findIndex((item) => item.promptId === promptId)
    if (i < 0) return false
    this.heap.splice(i, 1)
    // heapq.heapify after removal
    for (let j = (this.heap.length >> 1) - 1; j >= 0; j--) this.siftDown(j)
    this.changed()
    return true
  }

  historyEntry(promptId: string): HistoryEntry | undefined {
    return this.history.get(promptId)
  }

  /** The whole history, oldest first. */
  get historyEntries(): ReadonlyMap<string, HistoryEntry> {
    return this.history
  }

  /** GET /history: oldest first; `maxItems` alone gives the newest N; `offset` skips. */
  historySlice(maxItems: number | undefined, offset: number): Record<string, HistoryEntry> {
    const out: Record<string, HistoryEntry> = {}
    let start = offset
    if (start < 0 && maxItems !== undefined) start = this.history.size - maxItems
    let i = 0
    let count = 0
    for (const [id, entry] of this.history) {
      if (i >= start) {
        out[id] = entry
        count++
        if (maxItems !== undefined && count >= maxItems) break
      }
      i++
    }
    return out
  }

  get historyIds(): string[] {
    return [...this.history.keys()]
  }

  wipeHistory(): void {
    this.history.clear()
  }

  deleteHistory(promptId: unknown): void {
    if (typeof promptId === 'string') this.history.delete(promptId)
  }

  private siftDown(start: number): void {
    let i = start
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (
        left < this.heap.length &&
        before(this.heap[left] as QueueItem, this.heap[smallest] as QueueItem)
      ) {
        smallest = left
      }
      if (
        right < this.heap.length &&
        before(this.heap[right] as QueueItem, this.heap[smallest] as QueueItem)
      ) {
        smallest = right
      }
      if (smallest === i) return
      this.swap(i, smallest)
      i = smallest
    }
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a] as QueueItem
    this.heap[a] = this.heap[b] as QueueItem
    this.heap[b] = t
  }
}
