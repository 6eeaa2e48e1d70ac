import type { NodeErrors } from '../protocol/PromptResponse.js'

/** The pod's answer to a queued workflow. */
export interface QueuedPrompt {
  /** The id the pod uses for the prompt (from its answer). */
  readonly promptId: string
  /** Its priority number in the queue. */
  readonly number: number
  /** Outputs that failed validation and were dropped; the rest was queued (§5.2). */
  readonly nodeErrors: Readonly<Record<string, NodeErrors>>
}
