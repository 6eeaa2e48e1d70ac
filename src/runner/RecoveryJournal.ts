import type { InFlightJob, ProgressStore } from '../store/ProgressStore.js'
import type { RunnerPod } from './RunnerPod.js'

/**
 * What a runner keeps in its store for the next run of its instance (`instanceId`), which
 * `ComfyUIJobRunner.recover` reads: its pods' clientIds, and its jobs that a pod took and that
 * have not ended. Without a store and an instanceId it keeps nothing.
 *
 * Writes are not awaited, and never fail a job: the store reports its own failures on its
 * `diagnostics$`.
 */
export class RecoveryJournal {
  constructor(
    private readonly store: ProgressStore | undefined,
    private readonly instanceId: string | undefined,
    /** Whether the runner is closed: the jobs its closing ends are kept for the next run. */
    private readonly isClosed: () => boolean,
  ) {}

  /** Keeps the clientIds of the runner's pods, by pod URL. */
  saveClientIds(pods: readonly RunnerPod[]): void {
    const { store, instanceId } = this
    if (store === undefined || instanceId === undefined) return
    const saved = Object.fromEntries(pods.map((pod) => [pod.url, pod.clientId]))
    quietly(() => store.saveClientIds(instanceId, saved))
  }

  /** Keeps a job a pod took (or is about to be sent), for a restart of this instance. */
  record(job: InFlightJob): void {
    const { store, instanceId } = this
    if (store !== undefined && instanceId !== undefined)
      quietly(() => store.addJob(instanceId, job))
  }

  /** Forgets an ended job; a job the runner's closing ended is kept for a restart. */
  forget(promptId: string): void {
    const { store, instanceId } = this
    if (store !== undefined && instanceId !== undefined && !this.isClosed())
      quietly(() => store.removeJob(instanceId, promptId))
  }
}

/**
 * A write to the store, which reports its own failures (`diagnostics$`): a store that throws or
 * rejects anyway does not fail the job.
 */
function quietly(write: () => Promise<void>): void {
  try {
    write().catch(() => {})
  } catch {
    // See above.
  }
}
