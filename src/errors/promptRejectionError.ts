import { isLeft } from 'fp-ts/lib/Either.js'
import { PromptRejected } from '../protocol/PromptResponse.js'
import { ComfyValidationError } from './ComfyValidationError.js'

/**
 * Reads the body of a `POST /prompt` 400 answer as ComfyUI's rejection of the prompt: node
 * validation errors, a missing node class (`missing_node_type`), a dependency cycle
 * (`dependency_cycle`) or a refused prompt id (`invalid_prompt_id`, v0.25.0) (§5.2).
 *
 * @example
 * ```ts
 * import { promptRejectionError } from 'comfyui-rx'
 *
 * const body =
 *   '{"error":{"type":"invalid_prompt_id","message":"prompt_id must be a valid UUID",' +
 *   '"details":"","extra_info":{}},"node_errors":{}}'
 * const error = promptRejectionError(body, 'job-1')
 * error?.type // 'invalid_prompt_id'
 * error?.message // 'prompt job-1: prompt_id must be a valid UUID (invalid_prompt_id)'
 * promptRejectionError('<html>Bad Request</html>', 'job-1') // undefined
 * ```
 * @param body - the answer's body, as text
 * @param promptId - the prompt id the request asked for
 * @returns the error to fail the submission with, or undefined when the body is not a ComfyUI
 *   rejection (a proxy's page, say): report the answer as an HTTP error then
 */
export function promptRejectionError(
  body: string,
  promptId: string,
): ComfyValidationError | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined
  }
  const rejected = PromptRejected.decode(parsed)
  if (isLeft(rejected)) return undefined
  return new ComfyValidationError(rejected.right.error, rejected.right.node_errors ?? {}, promptId)
}
