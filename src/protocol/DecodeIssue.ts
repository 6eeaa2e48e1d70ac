/**
 * A frame that could not be decoded. It is reported on `pod.diagnostics$` and dropped; it never
 * errors the message stream.
 */
export interface DecodeIssue {
  readonly kind: 'decode_issue'
  /** `invalid_json`: not JSON or not `{type, data}`; `invalid_message`: a known type failed its codec; `invalid_binary`: a binary frame too short for its layout. */
  readonly reason: 'invalid_json' | 'invalid_message' | 'invalid_binary'
  /** The wire `type` (text) or event type (binary), when it could be read. */
  readonly messageType?: string
  /** The frame, truncated to a few hundred characters (binary frames as hex). */
  readonly raw: string
  /** What failed, as io-ts paths: `data.value: expected number, got "x"`. */
  readonly errors: readonly string[]
}
