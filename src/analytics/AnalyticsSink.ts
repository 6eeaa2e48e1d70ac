import type { AnalyticsEvent } from './AnalyticsEvent.js'

/**
 * Where analytics events go: a port with one method, so that PostHog (`posthogSink`), a log or a
 * test double can sit behind it. `capture` must return at once; whatever it throws is ignored,
 * so an analytics outage never touches a job.
 *
 * @example
 * ```ts
 * import type { AnalyticsSink } from 'comfyui-rx'
 *
 * const logSink: AnalyticsSink = {
 *   capture: ({ event, properties }) => console.log(event, properties),
 * }
 * // comfyui_websocket_connected { clientId: '…', serverUrl: 'http://127.0.0.1:8188/', connectionTime: 12 }
 * ```
 */
export interface AnalyticsSink {
  /** Records one event; called synchronously from the streams, so it must not block. */
  capture(event: AnalyticsEvent): void
}
