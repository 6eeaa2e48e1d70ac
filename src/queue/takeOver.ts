import type { RecordedTarget } from './QueuedJobData.js'

/**
 * @internal What a worker does with a job whose prompt its pod has neither queued nor in history:
 *
 * - `send` it (same promptId) when the pod never got it — the worker that recorded the target
 *   died before the pod answered its `POST /prompt` — or when this is a new attempt, after a
 *   failure that BullMQ retries;
 * - `fail` (`ComfyPromptLostError`, retried per `attempts`) when the pod had taken it in this
 *   attempt: the pod lost it (a restart).
 */
export function takeOver(target: RecordedTarget, attempt: number): 'send' | 'fail' {
  return !target.submitted || target.attempt < attempt ? 'send' : 'fail'
}
