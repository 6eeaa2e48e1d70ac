import { Observable, type ObservableInput } from 'rxjs'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { PromptFollower } from './PromptFollower.js'
import type { JobState } from './reduceJob.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'

/** How a job starts: its own id, its first state, and how its prompt gets queued. */
export interface FollowPlan {
  /** The id routed before anything is sent. */
  readonly ownId: string
  readonly initial: JobState
  /**
   * `POST /prompt`, sent once the socket is open (or given up on, with the fallback); answers
   * the pod's id. Absent for a prompt queued earlier, which starts with a REST round.
   */
  readonly submit?: () => ObservableInput<{ readonly promptId: string }>
}

/** A job's options with their defaults in place. */
export type JobSettings = Required<Omit<TrackPromptOptions, 'signal'>> & {
  readonly signal: AbortSignal | undefined
}

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
