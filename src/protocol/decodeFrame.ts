import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js'
import { PreviewMetadata, type BinaryFrame } from './BinaryFrame.js'
import { messageCodecs, type ComfyMessage } from './ComfyMessage.js'
import { compileGuard } from './compileGuard.js'
import type { DecodeIssue } from './DecodeIssue.js'
import { formatValidationErrors } from './formatValidationErrors.js'

/** A decoded frame: a text message or a binary frame. */
export type PodMessage = ComfyMessage | BinaryFrame

const RAW_LIMIT = 300
const utf8 = new TextDecoder('utf-8')

/** Each codec of `messageCodecs` with its compiled guard, which decides every valid frame. */
const messageGuards = new Map(
  Array.from(messageCodecs, ([type, codec]) => [type, { codec, is: compileGuard(codec) }]),
)
const isPreviewMetadata = compileGuard(PreviewMetadata)

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
  const decoded = decodeFrameValue(frame)
  return isDecodeIssue(decoded) ? left(decoded) : right(decoded)
}

/**
 * `decodeFrame` without the `Either`, for hot paths: the message, or the issue, as is. Tell them
 * apart with `isDecodeIssue`.
 *
 * @param frame - a text frame, or a binary frame as `ArrayBuffer` / `Uint8Array`
 * @returns the message, or the issue for a frame that is not valid
 */
export function decodeFrameValue(
  frame: string | ArrayBuffer | Uint8Array,
): PodMessage | DecodeIssue {
  return typeof frame === 'string' ? decodeText(frame) : decodeBinary(toBytes(frame))
}

/**
 * Whether `decodeFrameValue` answered with an issue. Every message has a `type`; an issue has
 * none (a message may carry any other key, `kind` included).
 */
export function isDecodeIssue(decoded: PodMessage | DecodeIssue): decoded is DecodeIssue {
  return !('type' in decoded)
}

function decodeText(text: string): PodMessage | DecodeIssue {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return issue('invalid_json', text, ['not JSON'])
  }
  const type =
    typeof parsed === 'object' && parsed !== null ? (parsed as { type?: unknown }).type : undefined
  if (typeof type !== 'string') return issue('invalid_json', text, ['not a {type, data} object'])
  const guard = messageGuards.get(type)
  if (guard === undefined)
    return { type: 'unknown', rawType: type, data: (parsed as { data?: unknown }).data }
  // No codec here transforms its input, so the guard validates without building a copy; `decode`
  // runs only to explain a frame that failed.
  if (guard.is(parsed)) return parsed
  const decoded = guard.codec.decode(parsed)
  return isLeft(decoded)
    ? issue('invalid_message', text, formatValidationErrors(decoded.left), type)
    : decoded.right
}

function decodeBinary(bytes: Uint8Array): PodMessage | DecodeIssue {
  if (bytes.byteLength < 4) return binaryIssue(bytes, 'shorter than its 4-byte event type')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const eventType = view.getUint32(0)
  switch (eventType) {
    case 1: {
      if (bytes.byteLength < 8) return binaryIssue(bytes, 'preview without image format', eventType)
      const format = view.getUint32(4)
      return {
        type: 'preview_image',
        mime: format === 2 ? 'image/png' : 'image/jpeg',
        image: bytes.subarray(8),
      }
    }
    case 3: {
      const nodeIdLength = bytes.byteLength >= 8 ? view.getUint32(4) : -1
      if (nodeIdLength < 0 || 8 + nodeIdLength > bytes.byteLength) {
        return binaryIssue(bytes, 'progress text shorter than its node id', eventType)
      }
      return {
        type: 'progress_text',
        nodeId: utf8.decode(bytes.subarray(8, 8 + nodeIdLength)),
        text: utf8.decode(bytes.subarray(8 + nodeIdLength)),
      }
    }
    case 4: {
      const metadataLength = bytes.byteLength >= 8 ? view.getUint32(4) : -1
      if (metadataLength < 0 || 8 + metadataLength > bytes.byteLength) {
        return binaryIssue(bytes, 'preview shorter than its metadata', eventType)
      }
      let metadata: unknown
      try {
        metadata = JSON.parse(utf8.decode(bytes.subarray(8, 8 + metadataLength)))
      } catch {
        return binaryIssue(bytes, 'preview metadata is not JSON', eventType)
      }
      const decoded = isPreviewMetadata(metadata)
        ? right(metadata)
        : PreviewMetadata.decode(metadata)
      if (isLeft(decoded)) {
        return {
          ...binaryIssue(bytes, '', eventType),
          errors: formatValidationErrors(decoded.left),
        }
      }
      return {
        type: 'preview_image_with_metadata',
        mime: decoded.right.image_type ?? 'image/jpeg',
        image: bytes.subarray(8 + metadataLength),
        metadata: decoded.right,
      }
    }
    default:
      return { type: 'unknown_binary', eventType, data: bytes.subarray(4) }
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
