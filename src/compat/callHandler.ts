/** What the compat API does with an error a user's callback threw. */
export type HandlerErrorReporter = (error: unknown, promptId: string | undefined) => void

/** The default: say so on stderr; a callback's bug must be visible, and must not stop the job. */
export const logHandlerError: HandlerErrorReporter = (error, promptId) =>
  console.error(`comfyui-rx: a handler of prompt ${promptId ?? '(unknown)'} threw`, error)

/**
 * Calls a user's callback; what it throws goes to `report` (and, should `report` throw too, is
 * dropped), so that no callback breaks the stream it listens to or another prompt's.
 */
export function callHandler<A extends unknown[]>(
  handler: (...args: A) => unknown,
  args: A,
  report: HandlerErrorReporter,
  promptId: string | undefined,
): void {
  try {
    handler(...args)
  } catch (error) {
    try {
      report(error, promptId)
    } catch {
      // The reporter is the user's too; nothing is left to tell.
    }
  }
}
