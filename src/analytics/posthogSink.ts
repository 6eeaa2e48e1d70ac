import { PostHog, type PostHogOptions } from 'posthog-node'
import { invalid, positive } from '../internal/optionChecks.js'
import type { AnalyticsEvent } from './AnalyticsEvent.js'
import type { AnalyticsSink } from './AnalyticsSink.js'

/** Options of `posthogSink(options)`. */
export interface PostHogSinkOptions {
  /** The PostHog project API key (`phc_…`). */
  readonly apiKey: string
  /**
   * The PostHog host the batches are sent to.
   * @default 'https://us.i.posthog.com'
   */
  readonly host?: string
  /**
   * The `distinctId` of each event: a constant (one "person" for this backend), or chosen per
   * event.
   * @default 'comfyui-rx'
   */
  readonly distinctId?: string | ((event: AnalyticsEvent) => string)
  /**
   * Events queued before a batch is sent.
   * @default 20
   */
  readonly flushAt?: number
  /**
   * Longest time an event waits in the queue before its batch is sent, in ms.
   * @default 10000
   */
  readonly flushInterval?: number
  /**
   * How long `close()` may take to send what is queued, in ms.
   * @default 10000
   */
  readonly shutdownTimeoutMs?: number
  /**
   * Any other posthog-node option (`requestTimeout`, `fetchRetryCount`, `disableCompression`, …).
   * @default {}
   */
  readonly posthog?: Omit<PostHogOptions, 'host' | 'flushAt' | 'flushInterval'>
}

/** An `AnalyticsSink` on posthog-node, to be closed when the process is done with it. */
export interface PostHogSink extends AnalyticsSink {
  /** Sends every queued event (within `shutdownTimeoutMs`) and stops the client. Idempotent. */
  close(): Promise<void>
}

/**
 * An `AnalyticsSink` that sends the events to PostHog with posthog-node, in batches. Capturing
 * only queues: PostHog being slow or down never delays or fails a job, and `close()` flushes.
 * Events captured after `close()` are dropped.
 *
 * @example
 * ```ts
 * import { ComfyUIJobRunner } from 'comfyui-rx'
 * import { posthogSink } from 'comfyui-rx/analytics'
 *
 * const analytics = posthogSink({ apiKey: 'phc_…', host: 'https://eu.i.posthog.com' })
 * const runner = new ComfyUIJobRunner({ pods: ['http://pod-1:8188'], analytics })
 * // … on shutdown
 * runner.close()
 * await analytics.close() // the last batch is sent
 * ```
 * @param options - see `PostHogSinkOptions`
 * @returns the sink
 * @throws TypeError for an invalid option
 */
export function posthogSink(options: PostHogSinkOptions): PostHogSink {
  const {
    apiKey,
    host = 'https://us.i.posthog.com',
    distinctId = 'comfyui-rx',
    flushAt = 20,
    flushInterval = 10_000,
    shutdownTimeoutMs = 10_000,
    posthog = {},
  } = options
  if (typeof apiKey !== 'string' || apiKey === '') invalid('apiKey', apiKey, 'a non-empty string')
  if (typeof host !== 'string' || !/^https?:\/\//.test(host))
    invalid('host', host, 'an http(s) URL')
  if (typeof distinctId !== 'function' && (typeof distinctId !== 'string' || distinctId === ''))
    invalid('distinctId', distinctId, 'a non-empty string or a function')
  if (!Number.isInteger(flushAt) || flushAt < 1) invalid('flushAt', flushAt, 'an integer >= 1')
  positive('flushInterval', flushInterval)
  positive('shutdownTimeoutMs', shutdownTimeoutMs)

  const client = new PostHog(apiKey, { ...posthog, host, flushAt, flushInterval })
  let closing: Promise<void> | undefined
  return {
    capture(event) {
      if (closing !== undefined) return
      try {
        client.capture({
          distinctId: typeof distinctId === 'string' ? distinctId : distinctId(event),
          event: event.event,
          properties: { ...event.properties },
        })
      } catch {
        // A sink never breaks what it reports on.
      }
    },
    close() {
      closing ??= client.shutdown(shutdownTimeoutMs).catch(() => undefined)
      return closing
    },
  }
}
