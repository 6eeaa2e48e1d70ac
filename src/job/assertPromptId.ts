import { invalid } from '../internal/optionChecks.js'

/** A canonical UUID: lower case, hyphenated, as ComfyUI 0.25+ requires of a client's prompt id. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Checks a caller's prompt id before anything is sent: ComfyUI 0.25+ answers 400
 * `invalid_prompt_id` to anything but `str(uuid.UUID(v))`, so a job would fail only on newer pods.
 *
 * @throws TypeError naming the option
 */
export function assertPromptId(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !CANONICAL_UUID.test(value))
    invalid(name, value, 'a lower-case hyphenated UUID (crypto.randomUUID())')
}
