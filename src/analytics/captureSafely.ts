import type { AnalyticsEvent } from './AnalyticsEvent.js'
import type { AnalyticsSink } from './AnalyticsSink.js'

/** Hands an event to a sink; a sink that throws must not break the job or pod it reports on. */
export function captureSafely(sink: AnalyticsSink, event: AnalyticsEvent): void {
  try {
    sink.capture(event)
  } catch {
    // Analytics are best effort by design (the sink's contract says so).
  }
}
