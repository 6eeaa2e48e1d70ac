import { asyncScheduler, mergeMap, type SchedulerLike, scan, type Subscription } from 'rxjs'
import type { ComfyPod } from '../pod/ComfyPod.js'
import type { ConnectionState } from '../socket/ConnectionState.js'
import { redactUrl } from '../internal/redactUrl.js'
import type { AnalyticsEvent } from './AnalyticsEvent.js'
import type { AnalyticsSink } from './AnalyticsSink.js'
import { captureSafely } from './captureSafely.js'
import { redactSecrets } from './redactSecrets.js'
import { seconds } from './seconds.js'

/** Options of `reportPod(pod, sink, options)`. */
export interface ReportPodOptions {
  /**
   * Clock of the connection durations.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

/** The pod's side of the report: what `reportPod` reads. */
export type ReportedPod = Pick<ComfyPod, 'connection$' | 'clientId' | 'url'>

interface Step {
  readonly previous: ConnectionState['state'] | undefined
  /** The number of the last connection attempt. */
  readonly attempt: number
  readonly openedAt: number | undefined
  readonly events: readonly AnalyticsEvent[]
}

/**
 * Reports a pod's socket to a sink, from `pod.connection$`: `comfyui_websocket_connected` on each
 * open (with its `connectionTime` in ms), `comfyui_websocket_disconnected` when an open socket
 * closes, is lost or gives up (with the open `duration` in s), and
 * `comfyui_websocket_connection_failed` for each attempt that did not open. Watching does not
 * open the socket. Call it once per pod; it ends with the pod or when unsubscribed.
 *
 * @example
 * ```ts
 * import { ComfyPod, reportPod } from 'comfyui-rx'
 * import { posthogSink } from 'comfyui-rx/analytics'
 *
 * const sink = posthogSink({ apiKey: process.env.POSTHOG_KEY!, host: 'https://eu.i.posthog.com' })
 * const pod = new ComfyPod('http://127.0.0.1:8188')
 * const reporting = reportPod(pod, sink)
 * // … later
 * reporting.unsubscribe()
 * pod.close()
 * await sink.close()
 * ```
 * @param pod - the pod whose `connection$` is reported
 * @param sink - where the events go
 * @param options - see `ReportPodOptions`
 * @returns the subscription; unsubscribe to stop reporting
 */
export function reportPod(
  pod: ReportedPod,
  sink: AnalyticsSink,
  options: ReportPodOptions = {},
): Subscription {
  const { scheduler = asyncScheduler } = options
  const clientId = pod.clientId
  const serverUrl = redactUrl(pod.url)
  const initial: Step = { previous: undefined, attempt: 0, openedAt: undefined, events: [] }
  return pod.connection$
    .pipe(
      scan((step: Step, state: ConnectionState): Step => {
        const now = scheduler.now()
        const events: AnalyticsEvent[] = []
        if (state.state === 'open') {
          events.push({
            event: 'comfyui_websocket_connected',
            properties: { clientId, serverUrl, connectionTime: state.connectTimeMs },
          })
          return { ...step, previous: state.state, openedAt: now, events }
        }
        if (state.state === 'connecting') {
          return { ...step, previous: state.state, attempt: state.attempt, events }
        }
        const reason = redactSecrets(state.reason)
        if (step.openedAt !== undefined) {
          events.push({
            event: 'comfyui_websocket_disconnected',
            properties: { clientId, reason, duration: seconds(now - step.openedAt) },
          })
        } else if (step.previous === 'connecting' && state.state !== 'closed') {
          events.push({
            event: 'comfyui_websocket_connection_failed',
            properties: {
              clientId,
              serverUrl,
              reason,
              attempt: step.attempt,
            },
          })
        }
        return { ...step, previous: state.state, openedAt: undefined, events }
      }, initial),
      mergeMap((step) => step.events),
    )
    .subscribe((event) => captureSafely(sink, event))
}
