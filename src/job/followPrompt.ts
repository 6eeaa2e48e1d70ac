import { Observable } from 'rxjs'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { PromptFollower } from './PromptFollower.js'
import type { FollowPlan, JobSettings } from './JobSettings.js'

/**
 * Follows one prompt to exactly one end (see `PromptFollower`). Cold: each subscription is one
 * job, and unsubscribing removes every route, timer and request of it.
 */
export function followPrompt(
  context: JobContext,
  settings: JobSettings,
  plan: () => FollowPlan,
): Observable<JobEvent> {
  return new Observable((subscriber) => {
    const follower = new PromptFollower(context, plan(), settings, subscriber)
    follower.start()
    return follower
  })
}
