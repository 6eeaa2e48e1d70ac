import type { PodMessage } from '../protocol/decodeFrame.js'

/** Where a prompt's messages go. */
export interface Route {
  message(message: PodMessage): void
}

const ORPHAN_LIMIT = 256

/**
 * Delivers each message to the one job of its prompt in O(1), whatever the number of jobs: a
 * Map lookup, not a `filter` per job. Messages of a prompt with no route yet are kept in a small
 * ring and replayed when the route registers, because `execution_start` can beat the answer of
 * `POST /prompt` (§3.0) and old servers pick their own prompt id.
 */
export class PromptRouter {
  private readonly routes = new Map<string, Route>()
  private readonly orphans: (
    { readonly promptId: string; readonly message: PodMessage } | undefined
  )[] = new Array(ORPHAN_LIMIT)
  private nextOrphan = 0
  /** The prompt running now, for frames that carry no prompt id (type-1 previews, §2.14). */
  private running: string | undefined

  /** Number of prompts with a route. */
  get size(): number {
    return this.routes.size
  }

  /** Routes the messages of `promptId` to `route`, those kept from before included. */
  register(promptId: string, route: Route): void {
    this.routes.set(promptId, route)
    for (let i = 0; i < ORPHAN_LIMIT; i++) {
      const slot = (this.nextOrphan + i) % ORPHAN_LIMIT
      const orphan = this.orphans[slot]
      if (orphan?.promptId !== promptId) continue
      this.orphans[slot] = undefined
      route.message(orphan.message)
    }
  }

  /** Removes the route of `promptId`, if it is still `route`. */
  unregister(promptId: string, route: Route): void {
    if (this.routes.get(promptId) === route) this.routes.delete(promptId)
  }

  /** Delivers one message of the pod's stream. */
  dispatch(message: PodMessage): void {
    const promptId = this.promptIdOf(message)
    if (promptId === undefined) return
    const route = this.routes.get(promptId)
    if (route !== undefined) {
      route.message(message)
      return
    }
    // Images are not kept: a preview that beats the HTTP answer is not worth holding megabytes.
    if (message.type === 'preview_image' || message.type === 'preview_image_with_metadata') return
    this.orphans[this.nextOrphan] = { promptId, message }
    this.nextOrphan = (this.nextOrphan + 1) % ORPHAN_LIMIT
  }

  private promptIdOf(message: PodMessage): string | undefined {
    switch (message.type) {
      case 'execution_start':
        this.running = message.data.prompt_id
        return this.running
      case 'executing':
        if (message.data.node === null && message.data.prompt_id === this.running)
          this.running = undefined
        return message.data.prompt_id
      case 'execution_cached':
      case 'executed':
      case 'progress':
      case 'progress_state':
      case 'execution_success':
      case 'execution_error':
      case 'execution_interrupted':
        return message.data.prompt_id
      case 'preview_image_with_metadata':
        return message.metadata.prompt_id
      case 'preview_image':
        return this.running
      default:
        return undefined
    }
  }
}
