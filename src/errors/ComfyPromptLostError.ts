import { ComfyError } from './ComfyError.js'

/**
 * The prompt is gone: absent from the pod's queue and then from its history, twice in a row
 * (the pod restarted, or someone deleted it or cleared the queue; protocol §5.14, §6).
 */
export class ComfyPromptLostError extends ComfyError {
  override readonly name = 'ComfyPromptLostError'

  constructor(readonly promptId: string) {
    super(`prompt ${promptId} is in neither the pod's queue nor its history: it was lost`)
  }
}
