import type { ExecutionErrorData } from '../protocol/ComfyMessage.js'
import { ComfyError } from './ComfyError.js'

/** A node raised while the prompt ran (`execution_error`, §2.10); every field of it is kept. */
export class ComfyExecutionError extends ComfyError {
  override readonly name = 'ComfyExecutionError'
  readonly promptId: string
  /** The real (original prompt) node id that failed. */
  readonly nodeId: string | undefined
  /** Its class_type. */
  readonly nodeType: string | undefined
  readonly exceptionType: string | undefined
  readonly exceptionMessage: string | undefined
  readonly traceback: readonly string[]
  /** Nodes finished before the failure. */
  readonly executed: readonly string[]
  readonly currentInputs: unknown
  readonly currentOutputs: readonly string[]
  readonly timestamp: number | undefined

  constructor(readonly data: ExecutionErrorData) {
    super(
      `node ${data.node_id ?? '?'}${data.node_type ? ` (${data.node_type})` : ''} failed: ${
        data.exception_type ? `${data.exception_type}: ` : ''
      }${(data.exception_message ?? 'unknown error').trim()}`,
    )
    this.promptId = data.prompt_id
    this.nodeId = data.node_id
    this.nodeType = data.node_type
    this.exceptionType = data.exception_type
    this.exceptionMessage = data.exception_message
    this.traceback = data.traceback ?? []
    this.executed = data.executed ?? []
    this.currentInputs = data.current_inputs
    this.currentOutputs = data.current_outputs ?? []
    this.timestamp = data.timestamp
  }
}
