import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeType, SimulatedTiming } from './SimulatedNodeType.js'

/**
 * Options of `startComfySimulator`.
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * // a slow sampler for a demo; everything else at test speed
 * const sim = await startComfySimulator({ stepDurationMs: 100, previews: false })
 * ```
 */
export interface ComfySimulatorOptions {
  /**
   * The ComfyUI release to imitate: `'0.3.64'` answers exactly like the recorded 0.3.64 traces;
   * `'0.33'` adds what changed up to 0.33 (the Jobs API under `/api/jobs`, canonical-UUID
   * `prompt_id`s, `dependency_cycle` and `missing_node_type` validation errors, `create_time` and
   * `preview_method` in `extra_data`, cached intermediate outputs re-sent, the newer
   * `/system_stats`).
   * @default '0.3.64'
   */
  readonly version?: SimulatedComfyVersion
  /**
   * TCP port to listen on; 0 picks a free one (read it back from `ComfySimulator.port`).
   * @default 0
   */
  readonly port?: number
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * Time a node without progress steps takes to execute.
   * @default 2
   */
  readonly nodeDurationMs?: number
  /**
   * Time each progress step of a step-based node takes (KSampler: one per `steps`).
   * @default 5
   */
  readonly stepDurationMs?: number
  /**
   * Whether step-based nodes send a preview frame with each step (type 4 to clients that
   * advertised `supports_preview_metadata`, type 1 to the others), like `--preview-method`. With
   * version `'0.33'` a prompt's `extra_data.preview_method` overrides it for that prompt: `'none'`
   * turns previews off, `'auto'`, `'latent2rgb'` and `'taesd'` turn them on.
   * @default true
   */
  readonly previews?: boolean
  /**
   * Request body limit in bytes (413 above it), also reported as `max_upload_size` in
   * `/features` and the `feature_flags` reply.
   * @default 104857600 (100 MiB, ComfyUI's default)
   */
  readonly maxUploadSize?: number
  /**
   * ComfyUI's default execution cache: a node whose inputs and upstream are unchanged from the
   * previous prompt is not executed again. `false` behaves like `--cache-none`.
   * @default true
   */
  readonly cache?: boolean
  /**
   * Model files the loader nodes offer (their combo lists, validated like the real ones).
   * @default { checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
   *   vae: ['random_taesd_vae.pt', 'vae-ft-mse-840000-ema-pruned.safetensors'] }
   */
  readonly models?: Partial<SimulatedModels>
  /**
   * Extra node types, or overrides of built-in ones (fields given replace the built-in's).
   * @default {}
   */
  readonly nodeTypes?: Readonly<Record<string, SimulatedNodeType>>
  /**
   * How long the nodes of each class take, by class type, over `nodeDurationMs`, `stepDurationMs`
   * and the node types' own: e.g. `COMFYUI_0_3_64_CPU_TIMINGS`, recorded from a real pod, so that
   * tests replay realistic timing. Classes the simulator does not know are ignored.
   * @default {}
   */
  readonly timings?: Readonly<Record<string, SimulatedTiming>>
  /**
   * Start with the worker paused (prompts queue up until `resume()`).
   * @default false
   */
  readonly paused?: boolean
  /**
   * Like ComfyUI's `--enable-cors-header`: answers with CORS headers for this origin and turns
   * off the loopback Host/Origin check (which otherwise answers 403 to a mismatched Origin).
   * @default undefined
   */
  readonly enableCorsHeader?: string
}
