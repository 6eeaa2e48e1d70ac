import { asyncScheduler, Observable, type SchedulerLike, Subject, type Subscriber } from 'rxjs'
import { invalid, positive } from '../internal/optionChecks.js'
import type { ClassCost } from '../job/ClassCost.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import type { ProgressStore, ProgressStoreDiagnostic } from './ProgressStore.js'
import type { CostStore } from './CostStore.js'
import { supersedes } from './supersedes.js'

/** Options of `new InMemoryProgressStore(options)`. */
export interface InMemoryProgressStoreOptions {
  /**
   * How long a prompt's latest update is kept after its last change.
   * @default 3600000 (1 hour)
   */
  readonly ttlMs?: number
  /**
   * Prompts kept at most; beyond, the one changed least recently is forgotten.
   * @default 10000
   */
  readonly maxPrompts?: number
  /**
   * Clock of the TTL.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

interface Entry {
  readonly update: ProgressUpdate
  readonly expiresAt: number
}

/**
 * A `ProgressStore` in this process's memory: the default, for a backend that runs as one
 * instance. Its state is lost with the process; several instances share a `RedisProgressStore`.
 *
 * @example
 * ```ts
 * import { InMemoryProgressStore, watchProgress$ } from 'comfyui-rx'
 *
 * const store = new InMemoryProgressStore({ ttlMs: 600_000 })
 * await store.save({ promptId: 'p1', status: 'processing', progress: 40 })
 * watchProgress$(store, 'p1').subscribe((update) => console.log(update.progress)) // 40, …
 * ```
 */
export class InMemoryProgressStore implements ProgressStore, CostStore {
  readonly diagnostics$: Observable<ProgressStoreDiagnostic>

  private readonly ttlMs: number
  private readonly maxPrompts: number
  private readonly scheduler: SchedulerLike
  /** In order of last change, oldest first (a Map keeps insertion order). */
  private readonly prompts = new Map<string, Entry>()
  // Subscribers by prompt, rather than one Subject filtered by every watcher: an update costs one
  // Map lookup however many prompts are watched.
  private readonly watchers = new Map<string, Set<Subscriber<ProgressUpdate>>>()
  private readonly costs = new Map<string, Map<string, ClassCost>>()
  // Nothing goes wrong in memory; the Subject only completes on close, as the port says.
  private readonly diagnostics = new Subject<ProgressStoreDiagnostic>()
  private isClosed = false

  /**
   * @param options - see `InMemoryProgressStoreOptions`
   * @throws TypeError for an invalid option
   */
  constructor(options: InMemoryProgressStoreOptions = {}) {
    const { ttlMs = 3_600_000, maxPrompts = 10_000, scheduler = asyncScheduler } = options
    positive('ttlMs', ttlMs)
    if (!Number.isInteger(maxPrompts) || maxPrompts < 1)
      invalid('maxPrompts', maxPrompts, 'an integer >= 1')
    if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.now !== 'function')
      invalid('scheduler', scheduler, 'a SchedulerLike')
    this.ttlMs = ttlMs
    this.maxPrompts = maxPrompts
    this.scheduler = scheduler
    this.diagnostics$ = this.diagnostics.asObservable()
  }

  save(update: ProgressUpdate): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    const { promptId } = update
    const previous = this.current(promptId)
    if (!supersedes(previous, update)) return Promise.resolve()
    this.prompts.delete(promptId)
    this.prompts.set(promptId, { update, expiresAt: this.scheduler.now() + this.ttlMs })
    for (const [oldest] of this.prompts) {
      if (this.prompts.size <= this.maxPrompts) break
      this.prompts.delete(oldest)
    }
    for (const watcher of [...(this.watchers.get(promptId) ?? [])]) watcher.next(update)
    return Promise.resolve()
  }

  latest(promptId: string): Promise<ProgressUpdate | undefined> {
    return Promise.resolve(this.current(promptId))
  }

  watch$(promptId: string): Observable<ProgressUpdate> {
    return new Observable<ProgressUpdate>((subscriber) => {
      if (this.isClosed) return subscriber.complete()
      let watchers = this.watchers.get(promptId)
      if (watchers === undefined) this.watchers.set(promptId, (watchers = new Set()))
      watchers.add(subscriber)
      const latest = this.current(promptId)
      if (latest !== undefined) subscriber.next(latest)
      return () => {
        watchers.delete(subscriber)
        if (watchers.size === 0 && this.watchers.get(promptId) === watchers)
          this.watchers.delete(promptId)
      }
    })
  }

  loadCosts(key: string): Promise<Record<string, ClassCost>> {
    return Promise.resolve(Object.fromEntries(this.costs.get(key) ?? []))
  }

  saveCost(key: string, classType: string, cost: ClassCost): Promise<void> {
    if (!this.isClosed) {
      let costs = this.costs.get(key)
      if (costs === undefined) this.costs.set(key, (costs = new Map()))
      costs.set(classType, { ...cost })
    }
    return Promise.resolve()
  }

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    this.isClosed = true
    const watchers = [...this.watchers.values()].flatMap((set) => [...set])
    this.watchers.clear()
    for (const watcher of watchers) watcher.complete()
    this.diagnostics.complete()
    return Promise.resolve()
  }

  /** The prompt's latest update, unless expired (forgotten then: expiry is checked lazily). */
  private current(promptId: string): ProgressUpdate | undefined {
    const entry = this.prompts.get(promptId)
    if (entry === undefined) return undefined
    if (entry.expiresAt > this.scheduler.now()) return entry.update
    this.prompts.delete(promptId)
    return undefined
  }
}
