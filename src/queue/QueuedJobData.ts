import type { Workflow } from '../job/Workflow.js'
import type { PromptTarget } from '../runner/ComfyUIJobRunnerOptions.js'
import type { ErrorRecord } from './ErrorRecord.js'
import type { QueuedRunOptions } from './QueueJobOptions.js'

/** Where a job's prompt was sent, recorded before its `POST /prompt`. */
export interface RecordedTarget extends PromptTarget {
  /** The attempt that sent it (BullMQ's `attemptsMade` then). */
  readonly attempt: number
  /** Whether the pod answered the `POST /prompt` (it has the prompt, unless it lost it since). */
  readonly submitted: boolean
}

/** @internal A queued job's BullMQ `data`. */
export interface QueuedJobData {
  readonly workflow: Workflow
  readonly options: QueuedRunOptions
  /** The prompt's id on its pod, the same for every attempt. */
  readonly promptId: string
  readonly target?: RecordedTarget
  /** The error it failed with, for `result` on any instance. */
  readonly error?: ErrorRecord
}
