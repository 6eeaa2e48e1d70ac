/**
 * The ComfyUI release a simulator imitates: `'0.3.64'`, the release the recorded traces come from,
 * or `'0.33'`, with what changed up to ComfyUI 0.33 (Jobs API, UUID prompt ids, validation of
 * dependency cycles and missing node types, per-prompt preview method, intermediate outputs).
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 * import type { SimulatedComfyVersion } from 'comfyui-rx/simulator'
 *
 * const version: SimulatedComfyVersion = '0.33'
 * const sim = await startComfySimulator({ version })
 * console.log(sim.version) // '0.33'
 * ```
 */
export type SimulatedComfyVersion = '0.3.64' | '0.33'

/** Every {@link SimulatedComfyVersion}, to validate the option against. */
export const simulatedComfyVersions: readonly SimulatedComfyVersion[] = ['0.3.64', '0.33']
