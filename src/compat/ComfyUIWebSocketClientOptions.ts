import type { JobType } from '../analytics/AnalyticsEvent.js'
import type { AnalyticsSink } from '../analytics/AnalyticsSink.js'
import { noopAnalyticsSink } from '../analytics/noopAnalyticsSink.js'
import { invalid } from '../internal/optionChecks.js'
import type { ComfyUIJobResult } from '../job/ComfyUIJobResult.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import { assertHandlerOptions } from './assertHandlerOptions.js'
import { logHandlerError, type HandlerErrorReporter } from './callHandler.js'

/** Called once with the result of a prompt that completed. */
export type CompletionHandler = (result: ComfyUIJobResult) => void

/** Called once with the error a prompt ended with (a `ComfyError`). */
export type ErrorHandler = (error: Error) => void

/** Options of `new ComfyUIWebSocketClient(options)`. */
export interface ComfyUIWebSocketClientOptions {
  /**
   * Options of every connection's pod (`headers`, `connectTimeoutMs`, …); the clientId is
   * `connect`'s.
   * @default {}
   */
  readonly podOptions?: Omit<ComfyPodOptions, 'clientId'>
  /**
   * How each prompt with handlers is followed (`progressThrottleMs`, `timeoutMs`, …).
   * @default {}
   */
  readonly trackOptions?: TrackPromptOptions
  /**
   * Where the analytics events of the sockets and prompts go.
   * @default noopAnalyticsSink
   */
  readonly analytics?: AnalyticsSink
  /**
   * `jobType` of the progress analytics.
   * @default 'image_generation'
   */
  readonly jobType?: JobType
  /**
   * Receives what a handler throws; the prompt and every other prompt go on regardless.
   * @default logs it with console.error
   */
  readonly onHandlerError?: HandlerErrorReporter
}

/** @internal The options with every default applied. */
export type ResolvedWebSocketClientOptions = Required<ComfyUIWebSocketClientOptions>

/** @internal Applies the defaults and validates every option; throws a `TypeError` naming it. */
export function resolveWebSocketClientOptions(
  options: ComfyUIWebSocketClientOptions,
): ResolvedWebSocketClientOptions {
  const {
    podOptions = {},
    trackOptions = {},
    analytics = noopAnalyticsSink,
    jobType = 'image_generation',
    onHandlerError = logHandlerError,
  } = options
  if (typeof podOptions !== 'object' || podOptions === null)
    invalid('podOptions', podOptions, 'an object')
  if (typeof trackOptions !== 'object' || trackOptions === null)
    invalid('trackOptions', trackOptions, 'an object')
  assertHandlerOptions({ analytics, jobType, onHandlerError })
  return { podOptions, trackOptions, analytics, jobType, onHandlerError }
}
