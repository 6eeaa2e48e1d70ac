import type { ExecutionInterruptedData } from '../protocol/ComfyMessage.js'
import { ComfyError } from './ComfyError.js'

/** The prompt was interrupted (`execution_interrupted`, §2.11) — by this client or another one. */
export class ComfyInterruptedError extends ComfyError {
  override readonly name: string = 'ComfyInterruptedError'
  readonly promptId: string
  /** The node that was running when the interrupt tripped. */
  readonly nodeId: string | undefined
  readonly nodeType: string | undefined
  readonly executed: readonly string[]

  constructor(readonly data: ExecutionInterruptedData) {
    super(
      `prompt ${data.prompt_id} was interrupted${data.node_id ? ` at node ${data.node_id}` : ''}`,
    )
    this.promptId = data.prompt_id
    this.nodeId = data.node_id
    this.nodeType = data.node_type
    this.executed = data.executed ?? []
  }
}
