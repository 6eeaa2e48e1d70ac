import type { ProgressStoreDiagnostic } from './ProgressStore.js'

/** A write of a store, about one key: a later write of the same key makes it pointless. */
export interface QueuedWrite {
  /** What it writes: at most one write of a key runs, and one more waits. */
  readonly key: string
  readonly promptId?: string
  readonly run: () => Promise<unknown>
}

interface Waiting {
  readonly write: QueuedWrite
  /** The promises of this write and of those it superseded. */
  readonly settle: readonly (() => void)[]
}

/** What the queue needs of its store. */
export interface WriteQueueContext {
  /** Writes waiting at most (one per key); beyond, the oldest is dropped. */
  readonly maxWaiting: number
  /** Whether writes can be sent now. */
  readonly isReady: () => boolean
  /** Whether the connection was lost (rather than not made yet): writes waiting are reported. */
  readonly isLost: () => boolean
  /** Whether a write failed for want of a connection (it waits then), not by Redis's answer. */
  readonly isConnectionError: (error: unknown) => boolean
  readonly report: (diagnostic: ProgressStoreDiagnostic) => void
}

/**
 * The writes of a store, bounded whatever the connection does: one write per key at a time (so a
 * prompt's updates land in order) and, per key, only the latest waiting behind it or for the
 * reconnection — at most `maxWaiting` keys. A write that fails because the connection is down
 * waits for it (unless a newer one of its key does), and so do all writes until the store calls
 * `resume` on its connection's next 'ready': retrying at once would spin while the client has not
 * noticed the loss yet. A write that fails otherwise is dropped. Each failure and drop is a
 * diagnostic. Nothing here waits on a timer.
 */
export class WriteQueue {
  private readonly waiting = new Map<string, Waiting>()
  private readonly running = new Map<string, Promise<void>>()
  /** A write found the connection down: nothing is sent until `resume`. */
  private parked = false

  constructor(private readonly context: WriteQueueContext) {}

  /**
   * Queues a write; resolves once it ran, failed, or was dropped, or at once while the connection
   * is down (it waits for it, unless superseded). Never rejects.
   */
  enqueue(write: QueuedWrite): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.waiting.get(write.key)
      // Re-inserted, so that the Map's order stays the order of the last change.
      this.waiting.delete(write.key)
      if (previous === undefined) this.makeRoom()
      const down = this.parked || !this.context.isReady()
      // Given up for now when down: nobody waits for Redis to come back.
      const settle = down ? (previous?.settle ?? []) : [...(previous?.settle ?? []), resolve]
      this.waiting.set(write.key, { write, settle })
      if (down) {
        // Said for each write, so that every update Redis misses is a diagnostic; the older
        // ones of a key are superseded silently, as the policy is: only the latest waits.
        if (this.parked || this.context.isLost())
          this.context.report(failed(write, true, 'not connected: the write waits for Redis'))
        resolve()
        return
      }
      this.flush()
    })
  }

  /** The connection is ready (again): sends what waits. */
  resume(): void {
    this.parked = false
    this.flush()
  }

  /** Starts the waiting writes whose key has none running, if the connection is ready. */
  flush(): void {
    if (this.parked || !this.context.isReady()) return
    for (const [key, waiting] of this.waiting) {
      if (this.running.has(key)) continue
      this.waiting.delete(key)
      this.start(waiting)
    }
  }

  /** Whether writes wait (for their key's, or for the connection). */
  get isWaiting(): boolean {
    return this.waiting.size > 0
  }

  /** Runs what can run now, until nothing runs; then drops what still waits. For closing. */
  async drain(): Promise<void> {
    for (;;) {
      this.flush()
      if (this.running.size === 0) break
      await Promise.all(this.running.values())
    }
    for (const [key, { write, settle }] of this.waiting) {
      this.waiting.delete(key)
      this.context.report(dropped(write))
      for (const resolve of settle) resolve()
    }
  }

  private start({ write, settle }: Waiting): void {
    const { key } = write
    let written: Promise<unknown>
    try {
      written = write.run()
    } catch (error) {
      written = Promise.reject(error)
    }
    const done = written.then(
      () => undefined,
      (error: unknown) => {
        // Down: it waits for the reconnection, unless a newer write of its key already does.
        const down = this.context.isConnectionError(error)
        if (down) this.parked = true
        const kept = down && !this.waiting.has(key)
        if (kept) {
          this.makeRoom()
          this.waiting.set(key, { write, settle: [] })
        }
        this.context.report(
          failed(write, kept, error instanceof Error ? error.message : String(error)),
        )
      },
    )
    this.running.set(
      key,
      done.then(() => {
        this.running.delete(key)
        for (const resolve of settle) resolve()
        this.flush()
      }),
    )
  }

  /** Drops the oldest waiting write when the queue is full. */
  private makeRoom(): void {
    if (this.waiting.size < this.context.maxWaiting) return
    const [oldest] = this.waiting
    if (oldest === undefined) return
    const [key, { write, settle }] = oldest
    this.waiting.delete(key)
    this.context.report(dropped(write))
    for (const resolve of settle) resolve()
  }
}

function failed(write: QueuedWrite, kept: boolean, message: string): ProgressStoreDiagnostic {
  return {
    type: 'write_failed',
    key: write.key,
    ...(write.promptId === undefined ? {} : { promptId: write.promptId }),
    kept,
    message,
  }
}

function dropped(write: QueuedWrite): ProgressStoreDiagnostic {
  return {
    type: 'update_dropped',
    key: write.key,
    ...(write.promptId === undefined ? {} : { promptId: write.promptId }),
  }
}
