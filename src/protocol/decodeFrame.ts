import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js'
import { PreviewMetadata, type BinaryFrame } from './BinaryFrame.js'
import { messageCodecs, type ComfyMessage } from './ComfyMessage.js'
import type { DecodeIssue } from './DecodeIssue.js'
import { formatValidationErrors } from './formatValidationErrors.js'

/** A decoded frame: a text message or a binary frame. */
export type PodMessage = ComfyMessage | BinaryFrame

const RAW_LIMIT = 300
const utf8 = new TextDecoder('utf-8')

/**
 * Decodes one WebSocket frame from a ComfyUI server. Never throws: whatever the input, the answer
 * is a `PodMessage` or a `DecodeIssue`.
 *
 * @example
 * ```ts
 * import { decodeFrame } from 'comfyui-rx'
 * import { isRight } from 'fp-ts/lib/Either.js'
 *
 * const decoded = decodeFrame('{"type":"executing","data":{"node":null,"prompt_id":"p1"}}')
 * if (isRight(decoded)) console.log(decoded.right.type) // executing
 * ```
 * @param frame - a text frame, or a binary frame as `ArrayBuffer` / `Uint8Array`
 * @returns `right(message)`, or `left(issue)` for a frame that is not valid
 */
export function decodeFrame(
  frame: string | ArrayBuffer | Uint8Array,
): Either<DecodeIssue, PodMessage> {
  return typeof frame === 'string' ? decodeText(frame) : decodeBinary(toBytes(frame))
}

function decodeText(text: string): Either<DecodeIssue, PodMessage> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return left(issue('invalid_json', text, ['not JSON']))
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof (parsed as { type?: unknown }).type !== 'string'
  ) {
    return left(issue('invalid_json', text, ['not a {type, data} object']))
  }
  const { type, data } = parsed as { type: string; data?: unknown }
  const codec = messageCodecs.get(type)
  if (codec === undefined) return right({ type: 'unknown', rawType: type, data })
  // No codec here transforms its input, so the type guard validates without building a copy;
  // `decode` runs only to explain a frame that failed.
  if (codec.is(parsed)) return right(parsed)
  const decoded = codec.decode(parsed)
  return isLeft(decoded)
    ? left(issue('invalid_message', text, formatValidationErrors(decoded.left), type))
    : decoded
}

function decodeBinary(bytes: Uint8Array): Either<DecodeIssue, PodMessage> {
  if (bytes.byteLength < 4) return left(binaryIssue(bytes, 'shorter than its 4-byte event type'))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const eventType = view.getUint32(0)
  switch (eventType) {
    case 1: {
      if (bytes.byteLength < 8)
        return left(binaryIssue(bytes, 'preview without image format', eventType))
      const format = view.getUint32(4)
      return right({
        type: 'preview_image',
        mime: format === 2 ? 'image/png' : 'image/jpeg',
        image: bytes.subarray(8),
      })
    }
    case 3: {
      const nodeIdLength = bytes.byteLength >= 8 ? view.getUint32(4) : -1
      if (nodeIdLength < 0 || 8 + nodeIdLength > bytes.byteLength) {
        return left(binaryIssue(bytes, 'progress text shorter than its node id', eventType))
      }
      return right({
        type: 'progress_text',
        nodeId: utf8.decode(bytes.subarray(8, 8 + nodeIdLength)),
        text: utf8.decode(bytes.subarray(8 + nodeIdLength)),
      })
    }
    case 4: {
      const metadataLength = bytes.byteLength >= 8 ? view.getUint32(4) : -1
      if (metadataLength < 0 || 8 + metadataLength > bytes.byteLength) {
        return left(binaryIssue(bytes, 'preview shorter than its metadata', eventType))
      }
      let metadata: unknown
      try {
        metadata = JSON.parse(utf8.decode(bytes.subarray(8, 8 + metadataLength)))
      } catch {
        return left(binaryIssue(bytes, 'preview metadata is not JSON', eventType))
      }
      const decoded = PreviewMetadata.decode(metadata)
      if (isLeft(decoded)) {
        return left({
          ...binaryIssue(bytes, '', eventType),
          errors: formatValidationErrors(decoded.left),
        })
      }
      return right({
        type: 'preview_image_with_metadata',
        mime: decoded.right.image_type ?? 'image/jpeg',
        image: bytes.subarray(8 + metadataLength),
        metadata: decoded.right,
      })
    }
    default:
      return right({ type: 'unknown_binary', eventType, data: bytes.subarray(4) })
  }
}

function toBytes(frame: ArrayBuffer | Uint8Array): Uint8Array {
  return frame instanceof Uint8Array ? frame : new Uint8Array(frame)
}

function issue(
  reason: DecodeIssue['reason'],
  text: string,
  errors: string[],
  messageType?: string,
): DecodeIssue {
  const raw = text.length > RAW_LIMIT ? `${text.slice(0, RAW_LIMIT)}…` : text
  return messageType === undefined
    ? { kind: 'decode_issue', reason, raw, errors }
    : { kind: 'decode_issue', reason, messageType, raw, errors }
}

function binaryIssue(bytes: Uint8Array, error: string, eventType?: number): DecodeIssue {
  const hex = Buffer.from(bytes.subarray(0, RAW_LIMIT / 2)).toString('hex')
  return issue('invalid_binary', hex, error === '' ? [] : [error], eventType?.toString())
}
