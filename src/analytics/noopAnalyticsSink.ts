import type { AnalyticsSink } from './AnalyticsSink.js'

/**
 * The default sink: drops every event.
 *
 * @example
 * ```ts
 * import { ComfyUIJobRunner, noopAnalyticsSink } from 'comfyui-rx'
 *
 * const runner = new ComfyUIJobRunner({ pods: [url], analytics: noopAnalyticsSink }) // as if omitted
 * ```
 */
export const noopAnalyticsSink: AnalyticsSink = Object.freeze({ capture: () => undefined })
