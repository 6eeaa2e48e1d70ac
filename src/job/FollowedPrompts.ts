import type { CancelledPhase } from '../errors/ComfyCancelledError.js'

/** A job as the pod's cancel sees it. */
export interface CancellableJob {
  /** The prompt was cancelled on the pod: end now, with the phase the pod saw if it knows it. */
  cancelled(phase: CancelledPhase | undefined): void
  /** Where the job last saw its prompt. */
  readonly phase: CancelledPhase
}

/**
 * The jobs following each prompt in this process, by prompt id, so that `pod.cancel(promptId)`
 * ends them at once: ComfyUI sends nothing about a prompt deleted from its queue. Most prompts
 * have one job, kept as itself rather than in a list.
 */
export class FollowedPrompts {
  private readonly jobs = new Map<string, CancellableJob | CancellableJob[]>()

  /** Number of prompts followed. */
  get size(): number {
    return this.jobs.size
  }

  add(promptId: string, job: CancellableJob): void {
    const present = this.jobs.get(promptId)
    if (present === undefined) this.jobs.set(promptId, job)
    else if (Array.isArray(present)) present.push(job)
    else if (present !== job) this.jobs.set(promptId, [present, job])
  }

  delete(promptId: string, job: CancellableJob): void {
    const present = this.jobs.get(promptId)
    if (present === job) this.jobs.delete(promptId)
    else if (Array.isArray(present)) {
      const rest = present.filter((each) => each !== job)
      if (rest.length === 1) this.jobs.set(promptId, rest[0]!)
      else this.jobs.set(promptId, rest)
    }
  }

  /** Where the jobs of `promptId` last saw it: `running` if any saw it start; undefined if none. */
  phaseOf(promptId: string): CancelledPhase | undefined {
    const jobs = this.list(promptId)
    if (jobs.length === 0) return undefined
    return jobs.some((job) => job.phase === 'running') ? 'running' : 'pending'
  }

  /** Ends every job of `promptId` as cancelled. */
  cancelled(promptId: string, phase?: CancelledPhase): void {
    for (const job of this.list(promptId)) job.cancelled(phase)
  }

  private list(promptId: string): readonly CancellableJob[] {
    const present = this.jobs.get(promptId)
    return present === undefined ? [] : Array.isArray(present) ? [...present] : [present]
  }
}
