/**
 * An error a simulated node throws to fail the way a Python node does: `exceptionType` becomes
 * `execution_error.exception_type` (`module.Class`, or a bare builtin name) and `traceback` its
 * formatted frames.
 *
 * @example
 * ```ts
 * import { SimulatedNodeError } from 'comfyui-rx/simulator'
 *
 * throw new SimulatedNodeError('CUDA out of memory', { exceptionType: 'torch.OutOfMemoryError' })
 * // → execution_error { exception_type: 'torch.OutOfMemoryError', exception_message: 'CUDA out of memory\n', … }
 * ```
 */
export class SimulatedNodeError extends Error {
  override readonly name = 'SimulatedNodeError'
  /** The Python exception type reported in `execution_error.exception_type`. */
  readonly exceptionType: string
  /** The formatted frames reported in `execution_error.traceback`. */
  readonly traceback: readonly string[]

  /**
   * @param message the exception text (`exception_message` adds ComfyUI's trailing newline)
   * @param options `exceptionType` (default `'RuntimeError'`) and `traceback` (default: a
   *   plausible frame in the node's code)
   */
  constructor(
    message: string,
    options: { readonly exceptionType?: string; readonly traceback?: readonly string[] } = {},
  ) {
    super(message)
    this.exceptionType = options.exceptionType ?? 'RuntimeError'
    this.traceback = options.traceback ?? []
  }
}
