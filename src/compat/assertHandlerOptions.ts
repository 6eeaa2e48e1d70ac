import { assertJobType } from '../analytics/assertJobType.js'
import { invalid } from '../internal/optionChecks.js'

/** Validates the options both compat clients share; throws a `TypeError` naming the option. */
export function assertHandlerOptions(options: {
  readonly analytics: unknown
  readonly jobType: unknown
  readonly onHandlerError: unknown
}): void {
  const { analytics, jobType, onHandlerError } = options
  assertJobType(jobType)
  if (
    typeof analytics !== 'object' ||
    analytics === null ||
    typeof (analytics as { capture?: unknown }).capture !== 'function'
  ) {
    invalid('analytics', analytics, 'an AnalyticsSink')
  }
  if (typeof onHandlerError !== 'function') invalid('onHandlerError', onHandlerError, 'a function')
}
