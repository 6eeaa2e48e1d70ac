import type { JobEvent } from '../job/JobEvent.js'
import type { ProgressUpdate } from './ProgressUpdate.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
  type ResolvedProgressUpdateOptions,
} from './ProgressUpdateOptions.js'

/**
 * The `ProgressUpdate` a job event means for a browser: `queued` → queued, `started` and
 * `progress` → processing, `completed` → completed (100, with the images). `preview` and
 * `node_executed` change nothing a progress bar shows: `undefined`. Pure.
 *
 * @example
 * ```ts
 * import { toProgressUpdate } from 'comfyui-rx'
 *
 * toProgressUpdate({ type: 'queued', promptId: 'p1', source: 'websocket', position: 2 })
 * // { promptId: 'p1', status: 'queued', progress: 0, queuePosition: 2 }
 * ```
 * @param event - an event of `executeWorkflow$` or `track$`
 * @param options - see `ProgressUpdateOptions` (`imageUrl` is used here)
 * @returns the update, or undefined for an event that changes nothing shown
 * @throws TypeError for an invalid option
 */
export function toProgressUpdate(
  event: JobEvent,
  options: ProgressUpdateOptions = {},
): ProgressUpdate | undefined {
  return mapJobEvent(event, resolveProgressUpdateOptions(options))
}

/** @internal `toProgressUpdate` with resolved options, so a stream checks them once. */
export function mapJobEvent(
  event: JobEvent,
  options: ResolvedProgressUpdateOptions,
): ProgressUpdate | undefined {
  const { promptId } = event
  switch (event.type) {
    case 'queued':
      return { promptId, status: 'queued', progress: 0, queuePosition: event.position }
    case 'started':
      return { promptId, status: 'processing', progress: 0 }
    case 'progress':
      return {
        promptId,
        status: 'processing',
        progress: event.progress,
        ...(event.estimatedTimeRemaining === undefined
          ? {}
          : { estimatedTimeRemaining: event.estimatedTimeRemaining }),
        ...(event.activity === undefined ? {} : { activity: event.activity }),
      }
    case 'completed':
      return {
        promptId,
        status: 'completed',
        progress: 100,
        images: event.result.images.map((image, index) => {
          const url = options.imageUrl?.(image, index, promptId)
          const { filename, subfolder, type } = image
          return url === undefined
            ? { filename, subfolder, type }
            : { filename, subfolder, type, url }
        }),
      }
    case 'preview':
    case 'node_executed':
      return undefined
  }
}

/** @internal The final update of a job that failed with `error`, where `latest` left it. */
export function failedUpdate(
  error: unknown,
  latest: ProgressUpdate | undefined,
  options: ResolvedProgressUpdateOptions,
): ProgressUpdate {
  return {
    promptId: latest?.promptId ?? options.promptId ?? '',
    status: 'failed',
    progress: latest?.progress ?? 0,
    message: options.failureMessage(error),
    errorName: error instanceof Error ? error.name : 'Error',
  }
}
