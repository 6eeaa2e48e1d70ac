import type { Observable } from 'rxjs'
import { followPrompt } from './followPrompt.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { initialJobState } from './reduceJob.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'

/**
 * Follows a prompt queued earlier — by this process, or by a previous one with the same
 * clientId: reconciled over REST first (its graph comes from the queue), then the socket.
 *
 * @throws TypeError for an empty promptId or an invalid option
 */
export function trackPrompt(
  context: JobContext,
  promptId: string,
  options: TrackPromptOptions = {},
): Observable<JobEvent> {
  if (typeof promptId !== 'string' || promptId === '') {
    throw new TypeError(`promptId must be a non-empty string, received ${String(promptId)}`)
  }
  assertTrackOptions(options)
  return followPrompt(context, options, () => ({
    ownId: promptId,
    initial: initialJobState(
      promptId,
      undefined,
      context.scheduler.now(),
      context.viewUrl,
      'queued',
    ),
  }))
}

/** Validates the options every job has; throws a `TypeError` naming the option. */
export function assertTrackOptions(options: TrackPromptOptions): void {
  const {
    progressThrottleMs = 1000,
    timeoutMs = 1,
    queueTimeoutMs = 1,
    pollIntervalMs = 1,
    stallTimeoutMs = 1,
    signal,
  } = options
  check('progressThrottleMs', progressThrottleMs, progressThrottleMs >= 0, 'a number >= 0')
  for (const [name, value] of Object.entries({
    timeoutMs,
    queueTimeoutMs,
    pollIntervalMs,
    stallTimeoutMs,
  })) {
    check(name, value, value > 0, 'a number > 0')
  }
  if (options.socket === false && options.restFallback === false) {
    throw new TypeError(
      'socket: false needs restFallback: a job without either has no way to follow',
    )
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, received ${String(signal)}`)
  }
}

function check(name: string, value: unknown, ok: boolean, expected: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok) {
    throw new TypeError(`${name} must be ${expected}, received ${String(value)}`)
  }
}
