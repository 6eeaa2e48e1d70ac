import type { AnalyticsEvent } from '../analytics/AnalyticsEvent.js'
import type { JobMethod } from '../job/ComfyUIJobResult.js'

/**
 * The funnel of a `ComfyUIJobRunner`: socket connections, fallbacks, progress delivered and
 * completions by method. Rates are `null` until their denominator is counted.
 */
export interface RunnerMetrics {
  /** Jobs given to the runner (`run$` subscriptions, `submit` calls). */
  readonly jobs: number
  /** Jobs sent to a pod; a job retried elsewhere counts twice. */
  readonly dispatched: number
  /** Jobs sent to another pod because theirs refused them before taking them. */
  readonly retried: number
  /** Socket connection attempts that opened. */
  readonly connectionsOpened: number
  /** Socket connection attempts that did not open. */
  readonly connectionsFailed: number
  /** connectionsOpened / (connectionsOpened + connectionsFailed). */
  readonly connectionSuccessRate: number | null
  /** Jobs that gave up the socket for REST polling. */
  readonly fallbacks: number
  /** fallbacks / dispatched. */
  readonly fallbackRate: number | null
  /** `progress` events delivered to the runner's subscribers. */
  readonly progressUpdates: number
  /** Jobs that completed, by how their end was seen. */
  readonly completed: Readonly<Record<JobMethod, number>>
  /** Jobs that failed. */
  readonly failed: number
  /** completed[method] / (all completed + failed): the share of ended jobs by each method. */
  readonly completionRate: Readonly<Record<JobMethod, number | null>>
}

/** The counters the rates come from. */
export type RunnerCounts = Omit<
  RunnerMetrics,
  'connectionSuccessRate' | 'fallbackRate' | 'completionRate'
>

export const NO_COUNTS: RunnerCounts = {
  jobs: 0,
  dispatched: 0,
  retried: 0,
  connectionsOpened: 0,
  connectionsFailed: 0,
  fallbacks: 0,
  progressUpdates: 0,
  completed: { websocket: 0, rest_polling: 0 },
  failed: 0,
}

/** The counts after one analytics event. */
export function countEvent(counts: RunnerCounts, event: AnalyticsEvent): RunnerCounts {
  switch (event.event) {
    case 'comfyui_websocket_connected':
      return { ...counts, connectionsOpened: counts.connectionsOpened + 1 }
    case 'comfyui_websocket_connection_failed':
      return { ...counts, connectionsFailed: counts.connectionsFailed + 1 }
    case 'comfyui_websocket_fallback':
      return { ...counts, fallbacks: counts.fallbacks + 1 }
    case 'comfyui_job_websocket_completed':
    case 'comfyui_job_rest_polling_completed': {
      const method = event.properties.method
      return {
        ...counts,
        completed: { ...counts.completed, [method]: counts.completed[method] + 1 },
      }
    }
    case 'comfyui_job_websocket_failed':
    case 'comfyui_job_rest_polling_failed':
      return { ...counts, failed: counts.failed + 1 }
    default:
      return counts
  }
}

/** The metrics of some counts. */
export function metricsOf(counts: RunnerCounts): RunnerMetrics {
  const attempts = counts.connectionsOpened + counts.connectionsFailed
  const ended = counts.completed.websocket + counts.completed.rest_polling + counts.failed
  return {
    ...counts,
    connectionSuccessRate: ratio(counts.connectionsOpened, attempts),
    fallbackRate: ratio(counts.fallbacks, counts.dispatched),
    completionRate: {
      websocket: ratio(counts.completed.websocket, ended),
      rest_polling: ratio(counts.completed.rest_polling, ended),
    },
  }
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole
}
