import type { SimulatedTiming } from './SimulatedNodeType.js'

/**
 * Node timings recorded from a real ComfyUI 0.3.64 on a CPU (the traces in
 * `spec/fixtures/comfyui-0.3.64/`: each node from its `progress_state` running to finished, steps
 * from their `progress` messages). For `ComfySimulatorOptions.timings`.
 *
 * @example
 * ```ts
 * import { COMFYUI_0_3_64_CPU_TIMINGS, startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator({ timings: COMFYUI_0_3_64_CPU_TIMINGS })
 * // VAEDecodeTiled of a 256×256 latent in 128 px tiles: 12 steps, 3.4 s
 * ```
 */
export const COMFYUI_0_3_64_CPU_TIMINGS: Readonly<Record<string, SimulatedTiming>> = {
  // progress.jsonl: 311 → 348 ms
  VAELoader: { durationMs: 37 },
  // progress.jsonl: 349 → 349 ms
  EmptyLatentImage: { durationMs: 1 },
  // progress.jsonl: running at 349, 12 steps at 653 … 3732 (280 ms apart), finished at 3733:
  // 23 ms before the first step besides its own
  VAEDecodeTiled: { loadMs: 23, stepDurationMs: 280 },
  // progress.jsonl: 3733 → 3740 ms; simple-success.jsonl: 318 → 326 ms
  SaveImage: { durationMs: 7 },
  // simple-success.jsonl
  EmptyImage: { durationMs: 1 },
  ImageInvert: { durationMs: 1 },
  ImageBlur: { durationMs: 4 },
  ImageScale: { durationMs: 1 },
}
