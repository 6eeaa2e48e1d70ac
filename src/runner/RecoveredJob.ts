import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'

/** A job of the previous run of the instance, which `recover` follows again. */
export interface RecoveredJob {
  readonly promptId: string
  /** Its pod's URL, without credentials. */
  readonly podUrl: string
  /**
   * Its result; rejects with the job's `ComfyError`, with `ComfyConnectionError` `pod_removed`
   * when its pod is not one of the runner's any more, or `runner_closed` when the runner is
   * closed first (the job is then kept for the next recovery).
   */
  readonly result: Promise<ComfyUIJobResult>
}
