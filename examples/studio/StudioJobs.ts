import type { Observable } from 'rxjs'
import type { Workflow } from '../../src/job/Workflow.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'

/** A generate request's answer: the prompt to follow, or why it was refused (and its status). */
export type Generated =
  { readonly promptId: string } | { readonly status: number; readonly error: string }

/** Where the studio runs its jobs: in this process, or on the workers of a BullMQ queue. */
export interface StudioJobs {
  /** Queues a workflow; answers once any instance can stream its progress. */
  generate(workflow: Workflow): Promise<Generated>
  /** A prompt's latest update, or undefined for an unknown prompt. */
  latest(promptId: string): Promise<ProgressUpdate | undefined>
  /** A prompt's updates, from its latest, to its final one. */
  updates$(promptId: string): Observable<ProgressUpdate>
  close(): Promise<void>
}
