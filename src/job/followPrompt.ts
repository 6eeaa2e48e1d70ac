import { Observable } from 'rxjs'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { PromptFollower } from './PromptFollower.js'
import type { FollowPlan, JobSettings } from './JobSettings.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'

/**
 * Follows one prompt to exactly one end (see `PromptFollower`). Cold: each subscription is one
 * job, and unsubscribing removes every route, timer and request of it.
 */
export function followPrompt(
  context: JobContext,
  options: TrackPromptOptions,
  plan: () => FollowPlan,
): Observable<JobEvent> {
  const settings: JobSettings = {
    progressThrottleMs: options.progressThrottleMs ?? 1000,
    timeoutMs: options.timeoutMs ?? 1_800_000,
    queueTimeoutMs: options.queueTimeoutMs ?? Number.POSITIVE_INFINITY,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    cancelOnUnsubscribe: options.cancelOnUnsubscribe ?? false,
    restFallback: options.restFallback ?? true,
    socket: options.socket ?? true,
    signal: options.signal,
  }
  return new Observable((subscriber) => {
    const follower = new PromptFollower(context, plan(), settings, subscriber)
    follower.start()
    return follower
  })
}
