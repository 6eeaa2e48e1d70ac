import { Aborted } from './Aborted.js'
import type { ExecutionCache, ExecutionEnv, InjectedFailure } from './ExecutionEnv.js'
import { executePrompt } from './executePrompt.js'
import type { PromptOutcome } from './executePrompt.js'
import type { FileStore } from './FileStore.js'
import { PromptQueue } from './PromptQueue.js'
import type { QueueItem } from './PromptQueue.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { SocketHub } from './SocketHub.js'

/** What a runtime needs from the simulator around it. */
export interface RuntimeDeps {
  readonly version: SimulatedComfyVersion
  readonly hub: SocketHub
  readonly files: FileStore
  readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  readonly cacheEnabled: boolean
  readonly nodeDurationMs: number
  readonly stepDurationMs: number
  readonly previews: boolean
  readonly takeFailure: (nodeId: string, classType: string) => InjectedFailure | undefined
  readonly started: (promptId: string) => void
  readonly finished: (promptId: string, outcome: PromptOutcome['outcome']) => void
  /** The worker died of an unexpected error (a real ComfyUI worker has no guard either). */
  readonly died: (error: unknown) => void
}

/**
 * Everything a ComfyUI process holds in memory — queue, running prompt, history, cache, the
 * prompt counter — and its single worker. A simulated restart throws one away and starts another.
 */
export class SimulatorRuntime {
  readonly queue: PromptQueue
  readonly interrupt = { requested: false }
  readonly current: ExecutionEnv['current'] = { clientId: null, lastNodeId: null }
  /** server.number: the next automatic priority. */
  number = 0
  private paused: boolean
  private hung = false
  private readonly cache: ExecutionCache = { outputs: new Map(), ui: new Map() }
  private readonly abort = new AbortController()
  private readonly timers = new Set<NodeJS.Timeout>()
  private wakeUp: (() => void) | undefined
  private readonly worker: Promise<void>

  constructor(
    private readonly deps: RuntimeDeps,
    paused: boolean,
  ) {
    this.paused = paused
    this.queue = new PromptQueue(() =>
      deps.hub.sendJson(
        'status',
        { status: { exec_info: { queue_remaining: this.queue.remaining } } },
        null,
      ),
    )
    this.worker = this.run().catch(deps.died)
  }

  /** Queues a prompt (POST /prompt) and wakes the worker. */
  put(item: QueueItem): void {
    this.queue.put(item)
    this.wake()
  }

  /** Stops taking new prompts; the running one finishes. */
  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.wake()
  }

  /**
   * Interrupts the running prompt only if it is `promptId`, and says whether it did: ComfyUI's
   * PromptQueue.interrupt_if_running, atomic here because nothing runs in between.
   */
  interruptIfRunning(promptId: unknown): boolean {
    if (this.queue.current === undefined || this.queue.current.promptId !== promptId) return false
    this.interrupt.requested = true
    return true
  }

  /** POST /free {free_memory}: drops the execution cache, so the next prompt runs every node. */
  freeMemory(): void {
    this.cache.outputs.clear()
    this.cache.ui.clear()
  }

  /**
   * Makes the worker stop dead inside the prompt it runs now or takes next: that prompt stays in
   * queue_running and nothing more is sent for it (a real worker thread dying, §3.7).
   */
  hang(): void {
    this.hung = true
  }

  /** Ends the worker and every timer; nothing more is sent. */
  async stop(): Promise<void> {
    this.abort.abort()
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.wake()
    await this.worker
  }

  private wake(): void {
    const wakeUp = this.wakeUp
    this.wakeUp = undefined
    wakeUp?.()
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Aborted())
      const onAbort = () => {
        if (timer !== undefined) {
          clearTimeout(timer)
          this.timers.delete(timer)
        }
        reject(new Aborted())
      }
      // A hung worker's sleep never ends; only the end of this runtime releases it.
      const timer = this.hung
        ? undefined
        : setTimeout(() => {
            this.timers.delete(timer as NodeJS.Timeout)
            signal.removeEventListener('abort', onAbort)
            resolve()
          }, ms)
      if (timer !== undefined) this.timers.add(timer)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async run(): Promise<void> {
    const env: ExecutionEnv = {
      version: this.deps.version,
      hub: this.deps.hub,
      nodeTypes: this.deps.nodeTypes,
      files: this.deps.files,
      cache: this.cache,
      cacheEnabled: this.deps.cacheEnabled,
      nodeDurationMs: this.deps.nodeDurationMs,
      stepDurationMs: this.deps.stepDurationMs,
      previews: this.deps.previews,
      interrupt: this.interrupt,
      current: this.current,
      sleep: (ms) => this.sleep(ms),
      aborted: () => this.abort.signal.aborted,
      takeFailure: this.deps.takeFailure,
    }
    const signal = this.abort.signal
    while (!signal.aborted) {
      if (this.paused || this.queue.pending.length === 0) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve))
        continue
      }
      const item = this.queue.take() as QueueItem
      this.deps.started(item.promptId)
      let result: PromptOutcome
      try {
        result = await executePrompt(env, item)
      } catch (error) {
        if (error instanceof Aborted) return
        throw error
      }
      if (signal.aborted) return
      this.queue.done(item, result.entry)
      if (this.current.clientId !== null) {
        this.deps.hub.sendJson(
          'executing',
          { node: null, prompt_id: item.promptId },
          this.current.clientId,
        )
      }
      this.deps.finished(item.promptId, result.outcome)
    }
  }
}
