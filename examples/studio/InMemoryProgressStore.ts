import { BehaviorSubject, type Observable, takeWhile } from 'rxjs'
import type { ProgressUpdate } from '../../src/sse/ProgressUpdate.js'

/**
 * The latest `ProgressUpdate` of each prompt, in this process's memory: what a browser that
 * reconnects or reloads mid-job is shown at once. (Several server instances would share it in
 * Redis instead.)
 */
export class InMemoryProgressStore {
  // A BehaviorSubject per prompt: a new subscriber gets the latest update first, then the live ones.
  private readonly prompts = new Map<string, BehaviorSubject<ProgressUpdate>>()

  /** @param capacity - prompts kept; the oldest is forgotten beyond it */
  constructor(private readonly capacity = 1000) {}

  has(promptId: string): boolean {
    return this.prompts.has(promptId)
  }

  get(promptId: string): ProgressUpdate | undefined {
    return this.prompts.get(promptId)?.value
  }

  set(update: ProgressUpdate): void {
    const subject = this.prompts.get(update.promptId)
    if (subject !== undefined) return subject.next(update)
    this.prompts.set(update.promptId, new BehaviorSubject(update))
    if (this.prompts.size > this.capacity) {
      const [oldest] = this.prompts.keys()
      if (oldest === undefined) return
      this.prompts.get(oldest)?.complete()
      this.prompts.delete(oldest)
    }
  }

  /** The prompt's latest update, then the next ones, completing after the final one. */
  updates$(promptId: string): Observable<ProgressUpdate> | undefined {
    return this.prompts
      .get(promptId)
      ?.pipe(
        takeWhile((update) => update.status !== 'completed' && update.status !== 'failed', true),
      )
  }
}
