import type { ComfyImage } from '../job/ComfyUIJobResult.js'
import { invalid } from '../internal/optionChecks.js'
import { userSafeMessage } from './userSafeMessage.js'

/** Options of `toProgressUpdate` and `toProgressUpdates`, and the common part of the SSE helpers'. */
export interface ProgressUpdateOptions {
  /**
   * The URL browsers load an output image from, typically a route of your server that proxies the
   * pod's `/view`. Return `image.url` only if browsers may see the pod's URL (it can carry
   * credentials). Without it, images are sent without a URL.
   * @default undefined
   */
  readonly imageUrl?: (image: ComfyImage, index: number, promptId: string) => string | undefined
  /**
   * The user-facing message of a failure.
   * @default userSafeMessage (one fixed sentence per error class)
   */
  readonly failureMessage?: (error: unknown) => string
  /**
   * The prompt the stream is about, for a failure before its first event (a workflow the pod
   * rejected has no prompt id yet) and for `cancelOnDisconnect`.
   * @default the promptId of the first event, or '' before it
   */
  readonly promptId?: string
}

/** @internal */
export interface ResolvedProgressUpdateOptions {
  readonly imageUrl:
    ((image: ComfyImage, index: number, promptId: string) => string | undefined) | undefined
  readonly failureMessage: (error: unknown) => string
  readonly promptId: string | undefined
}

/** @internal Applies the defaults and checks the options; throws a `TypeError` naming a bad one. */
export function resolveProgressUpdateOptions(
  options: ProgressUpdateOptions,
): ResolvedProgressUpdateOptions {
  const { imageUrl, failureMessage = userSafeMessage, promptId } = options
  if (imageUrl !== undefined && typeof imageUrl !== 'function')
    invalid('imageUrl', imageUrl, 'a function')
  if (typeof failureMessage !== 'function') invalid('failureMessage', failureMessage, 'a function')
  if (promptId !== undefined && (typeof promptId !== 'string' || promptId === ''))
    invalid('promptId', promptId, 'a non-empty string')
  return { imageUrl, failureMessage, promptId }
}
