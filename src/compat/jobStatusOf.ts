import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import { imagesOf } from '../job/imagesOf.js'
import type { ComfyPod } from '../pod/ComfyPod.js'
import type { HistoryEntry } from '../protocol/History.js'

/** The result of a prompt found in `/history`: `completed` with its images, or `failed`. */
export function jobStatusOf(
  promptId: string,
  entry: HistoryEntry,
  viewUrl: ComfyPod['viewUrl'],
): ComfyUIJobResult {
  const messages = entry.status?.messages ?? []
  const failed =
    entry.status?.status_str === 'error' ||
    messages.some(([name]) => name === 'execution_error' || name === 'execution_interrupted')
  return {
    promptId,
    status: failed ? 'failed' : 'completed',
    images: failed ? [] : imagesOf(entry.outputs, viewUrl),
    outputs: entry.outputs,
    durationMs: durationOf(messages),
    method: 'rest_polling',
    progressUpdates: 0,
  }
}

/** A prompt still in the queue: no outputs yet. */
export function pendingStatus(promptId: string, status: 'queued' | 'processing'): ComfyUIJobResult {
  return {
    promptId,
    status,
    images: [],
    outputs: {},
    durationMs: 0,
    method: 'rest_polling',
    progressUpdates: 0,
  }
}

// The pod's own clock: from `execution_start` to the last status message (§5.6).
function durationOf(messages: readonly (readonly [string, unknown])[]): number {
  const times = messages.flatMap(([, data]) => {
    const timestamp = (data as { timestamp?: unknown } | null)?.timestamp
    return typeof timestamp === 'number' ? [timestamp] : []
  })
  return times.length < 2 ? 0 : Math.max(...times) - Math.min(...times)
}
