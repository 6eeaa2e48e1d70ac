import { isRight } from 'fp-ts/lib/Either.js'
import { decodeFrame, type PodMessage } from '../../src/index.js'

/** A decoded text message, as the pod would deliver it. */
export function msg(type: string, data: object): PodMessage {
  const decoded = decodeFrame(JSON.stringify({ type, data }))
  if (!isRight(decoded)) throw new Error(`invalid ${type} message: ${JSON.stringify(decoded.left)}`)
  return decoded.right
}
