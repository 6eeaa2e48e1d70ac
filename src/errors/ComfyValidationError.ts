import type { NodeErrors, PromptError } from '../protocol/PromptResponse.js'
import { ComfyError } from './ComfyError.js'

/** `POST /prompt` answered 400: the workflow failed validation and was not queued (§5.2). */
export class ComfyValidationError extends ComfyError {
  override readonly name = 'ComfyValidationError'
  readonly status = 400

  constructor(
    /** ComfyUI's `error`: `{type, message, details, extra_info}`, or a plain string. */
    readonly error: PromptError | string,
    /** ComfyUI's `node_errors`: per node id, the errors and the outputs that depend on it. */
    readonly nodeErrors: Readonly<Record<string, NodeErrors>>,
  ) {
    super(describe(error, nodeErrors))
  }
}

function describe(
  error: PromptError | string,
  nodeErrors: Readonly<Record<string, NodeErrors>>,
): string {
  const head = typeof error === 'string' ? error : `${error.message} (${error.type})`
  const nodes = Object.entries(nodeErrors).map(
    ([nodeId, { class_type, errors }]) =>
      `node ${nodeId}${class_type === undefined ? '' : ` ${class_type}`}: ${errors
        .map((e) => (e.details ? `${e.message}: ${e.details}` : e.message))
        .join('; ')}`,
  )
  return [head, ...nodes].join('\n')
}
