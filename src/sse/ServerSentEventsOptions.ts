import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { invalid } from '../internal/optionChecks.js'
import {
  resolveProgressUpdateOptions,
  type ProgressUpdateOptions,
  type ResolvedProgressUpdateOptions,
} from '../progress/ProgressUpdateOptions.js'

/** Anything that can cancel a prompt on its pod; a `ComfyPod` is one. */
export interface PromptCanceller {
  cancel(promptId: string): unknown
}

/** Options of `toServerSentEvents` and `toEventStreamResponse`. */
export interface ServerSentEventsOptions extends ProgressUpdateOptions {
  /**
   * Interval of the comment lines (`: keepalive`) that keep proxies and load balancers from
   * closing a quiet stream. `Infinity` for none.
   * @default 15000
   */
  readonly keepAliveMs?: number
  /**
   * The reconnection delay browsers are told to use (`retry:`), in ms.
   * @default 3000
   */
  readonly retryMs?: number
  /**
   * Minimum time between two `processing` updates (leading and trailing edges kept); `queued`
   * and the final update are never delayed or dropped. 0 for none: the job's own
   * `progressThrottleMs` usually suffices.
   * @default 0
   */
  readonly throttleMs?: number
  /**
   * The `Last-Event-ID` of a reconnecting browser; the event ids go on from it, and the stream
   * starts with the latest state (whatever the source gives first), not with a replay.
   * @default the request's `Last-Event-ID` header
   */
  readonly lastEventId?: string | null
  /**
   * Cancel the prompt on the pod when the client goes away before the final update: the pod (or
   * anything with `cancel(promptId)`) to cancel it on. Errors of `cancel` are ignored.
   * @default undefined (the job is unsubscribed, the prompt runs on)
   */
  readonly cancelOnDisconnect?: PromptCanceller
  /**
   * Extra response headers (CORS, …).
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * Schedules keepalives and throttling; pass a `TestScheduler` to test in virtual time.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike
}

/** @internal */
export interface ResolvedServerSentEventsOptions extends ResolvedProgressUpdateOptions {
  readonly keepAliveMs: number
  readonly retryMs: number
  readonly throttleMs: number
  readonly lastEventId: string | null | undefined
  readonly cancelOnDisconnect: PromptCanceller | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly scheduler: SchedulerLike
}

/** @internal Applies the defaults and checks the options; throws a `TypeError` naming a bad one. */
export function resolveServerSentEventsOptions(
  options: ServerSentEventsOptions,
): ResolvedServerSentEventsOptions {
  const {
    keepAliveMs = 15_000,
    retryMs = 3_000,
    throttleMs = 0,
    lastEventId,
    cancelOnDisconnect,
    headers = {},
    scheduler = asyncScheduler,
  } = options
  if (typeof keepAliveMs !== 'number' || Number.isNaN(keepAliveMs) || keepAliveMs <= 0)
    invalid('keepAliveMs', keepAliveMs, 'a number > 0 (Infinity for none)')
  if (typeof retryMs !== 'number' || !Number.isInteger(retryMs) || retryMs < 0)
    invalid('retryMs', retryMs, 'an integer >= 0')
  if (typeof throttleMs !== 'number' || !Number.isFinite(throttleMs) || throttleMs < 0)
    invalid('throttleMs', throttleMs, 'a number >= 0')
  if (lastEventId !== undefined && lastEventId !== null && typeof lastEventId !== 'string')
    invalid('lastEventId', lastEventId, 'a string')
  if (
    cancelOnDisconnect !== undefined &&
    (typeof cancelOnDisconnect !== 'object' ||
      cancelOnDisconnect === null ||
      typeof cancelOnDisconnect.cancel !== 'function')
  )
    invalid('cancelOnDisconnect', cancelOnDisconnect, 'an object with cancel(promptId)')
  if (typeof headers !== 'object' || headers === null) invalid('headers', headers, 'an object')
  if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.now !== 'function')
    invalid('scheduler', scheduler, 'a SchedulerLike')
  return {
    ...resolveProgressUpdateOptions(options),
    keepAliveMs,
    retryMs,
    throttleMs,
    lastEventId,
    cancelOnDisconnect,
    headers,
    scheduler,
  }
}
