import type { ObservableInput } from 'rxjs'
import type { JobState } from './JobState.js'
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
