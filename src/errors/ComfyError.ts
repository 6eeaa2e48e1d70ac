/**
 * The base of every error this library reports; `instanceof ComfyError` catches them all.
 *
 * @example
 * ```ts
 * import { ComfyError } from 'comfyui-rx'
 *
 * pod.executeWorkflow$(workflow).subscribe({
 *   error: (error) => {
 *     if (error instanceof ComfyError) console.error(error.name, error.message)
 *   },
 * })
 * ```
 */
export class ComfyError extends Error {
  override readonly name: string = 'ComfyError'

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}
