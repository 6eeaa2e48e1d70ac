/**
 * One input of a simulated node, exactly as ComfyUI's `INPUT_TYPES()` writes it: a type name
 * (`'INT'`, `'IMAGE'`, `'*'`…) or a list of allowed values (a combo), then an optional options
 * object (`default`, `min`, `max`, `step`, `tooltip`, …). `/object_info` serves it unchanged and
 * validation reads `min`, `max` and the combo list from it.
 *
 * @example
 * ```ts
 * import type { SimulatedInputSpec } from 'comfyui-rx/simulator'
 *
 * const steps: SimulatedInputSpec = ['INT', { default: 20, min: 1, max: 10000 }]
 * const method: SimulatedInputSpec = [['nearest-exact', 'bilinear']]
 * ```
 */
export type SimulatedInputSpec =
  | readonly [type: string | readonly unknown[]]
  | readonly [type: string | readonly unknown[], options: Readonly<Record<string, unknown>>]

/** The three input groups of ComfyUI's `INPUT_TYPES()`. */
export interface SimulatedNodeInputs {
  /** Inputs a prompt must give (validation answers `required_input_missing` otherwise). */
  readonly required?: Readonly<Record<string, SimulatedInputSpec>>
  /** Inputs a prompt may give. */
  readonly optional?: Readonly<Record<string, SimulatedInputSpec>>
  /** Values the server fills in (`PROMPT`, `EXTRA_PNGINFO`, `UNIQUE_ID`); never validated. */
  readonly hidden?: Readonly<Record<string, string>>
}

/** An image flowing between simulated nodes: no pixels, only what the PNG needs. */
export interface SimulatedImage {
  readonly type: 'IMAGE'
  readonly width: number
  readonly height: number
  readonly batchSize: number
  /** The solid colour of the image, 0xRRGGBB. */
  readonly color: number
}

/** A latent flowing between simulated nodes; `width`/`height` are in pixels, as ComfyUI's widgets. */
export interface SimulatedLatent {
  readonly type: 'LATENT'
  readonly width: number
  readonly height: number
  readonly batchSize: number
  /** The colour the decoded image will have (KSampler derives it from the seed), 0xRRGGBB. */
  readonly color?: number
}

/** A file a simulated node wrote, as it appears in UI outputs and `/view` queries. */
export interface SimulatedFileRef {
  readonly filename: string
  readonly subfolder: string
  readonly type: 'output' | 'temp' | 'input'
}

/** What a simulated node returns from {@link SimulatedNodeType.execute}. */
export interface SimulatedNodeResult {
  /** One value per declared output, in order (what linked inputs downstream receive). */
  readonly outputs?: readonly unknown[]
  /**
   * The node's UI dict (`executed.output`, history `outputs`); every value is a list, as in
   * ComfyUI. An empty or missing dict sends no `executed`.
   */
  readonly ui?: Readonly<Record<string, readonly unknown[]>>
}

/** What a simulated node sees while it executes. */
export interface SimulatedNodeContext {
  /** The node's id in the prompt. */
  readonly nodeId: string
  /** The prompt being executed. */
  readonly promptId: string
  /** The node's class_type. */
  readonly classType: string
  /** Widget values as validated (converted like ComfyUI does); links replaced by upstream outputs. */
  readonly inputs: Readonly<Record<string, unknown>>
  /**
   * Reports a progress tick as ComfyUI's `ProgressBar.update_absolute` does: checks for an
   * interrupt (and throws if one is pending), then sends `progress_state`, the preview frame
   * (type 4 or type 1, by the submitter's flags) and `progress`. `preview: true` sends a small
   * generated PNG when the simulator's `previews` option is on; PNG bytes are always sent (as
   * SaveImageWebsocket does).
   * @throws when an interrupt is pending (let it propagate: the prompt ends interrupted)
   */
  progress(value: number, max: number, preview?: boolean | Uint8Array): void
  /** Broadcasts a binary type-3 progress-text frame for this node (as core callers do). */
  progressText(text: string): void
  /** Waits `ms` on the simulator's clock; rejects if the simulator stops or restarts. */
  sleep(ms: number): Promise<void>
  /**
   * Stores one PNG per image of the batch where `/view` serves it, named like ComfyUI's
   * SaveImage: `${prefix}_${counter:05}_.png`; a `/` in the prefix makes a subfolder.
   */
  saveImages(
    images: SimulatedImage,
    options: { readonly type: 'output' | 'temp'; readonly filenamePrefix: string },
  ): readonly SimulatedFileRef[]
}

/**
 * A node type the simulator can run: its `/object_info` entry (inputs, outputs, output_node)
 * and its behaviour (duration, progress steps, outputs, UI outputs). Given in
 * `ComfySimulatorOptions.nodeTypes`; fields given for a built-in name override the built-in's.
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator({
 *   nodeTypes: {
 *     SlowUpscale: {
 *       input: { required: { image: ['IMAGE'] } },
 *       output: ['IMAGE'],
 *       steps: 4,
 *       stepDurationMs: 50,
 *       execute: ({ inputs }) => ({ outputs: [inputs['image']] }),
 *     },
 *   },
 * })
 * ```
 */
export interface SimulatedNodeType {
  /**
   * Inputs, as ComfyUI's `INPUT_TYPES()`; a function is called each time (for lists that change,
   * like uploaded files).
   * @default {}
   */
  readonly input?: SimulatedNodeInputs | (() => SimulatedNodeInputs)
  /**
   * Output types (`RETURN_TYPES`).
   * @default []
   */
  readonly output?: readonly string[]
  /**
   * Output names (`RETURN_NAMES`).
   * @default the output types
   */
  readonly outputName?: readonly string[]
  /**
   * Output tooltips (`OUTPUT_TOOLTIPS`); omitted from `/object_info` when not given.
   * @default undefined
   */
  readonly outputTooltips?: readonly string[]
  /**
   * Whether this is an output node: prompts need at least one, and only nodes upstream of
   * output nodes run.
   * @default false
   */
  readonly outputNode?: boolean
  /**
   * Name shown in UIs.
   * @default the class name
   */
  readonly displayName?: string
  /**
   * Description in `/object_info`.
   * @default ''
   */
  readonly description?: string
  /**
   * Category in `/object_info`.
   * @default 'simulator'
   */
  readonly category?: string
  /**
   * `python_module` in `/object_info`.
   * @default 'custom_nodes.simulator'
   */
  readonly pythonModule?: string
  /**
   * Time the node takes when it has no progress steps.
   * @default ComfySimulatorOptions.nodeDurationMs
   */
  readonly durationMs?: number
  /**
   * Progress steps the node reports before it finishes (a `progress` per step), fixed or from
   * the node's inputs (KSampler: its `steps` input).
   * @default 0
   */
  readonly steps?: number | ((inputs: Readonly<Record<string, unknown>>) => number)
  /**
   * Time per progress step.
   * @default ComfySimulatorOptions.stepDurationMs
   */
  readonly stepDurationMs?: number
  /**
   * Time before the first progress step (a model loading, the first tile), or added to
   * `durationMs` for a node without steps.
   * @default 0
   */
  readonly loadMs?: number
  /**
   * Whether each progress step carries a preview image (when the simulator's `previews` is on).
   * @default false
   */
  readonly previews?: boolean
  /**
   * Per-input custom validation, like ComfyUI's `VALIDATE_INPUTS`: `true` passes, a string or
   * `false` fails with `custom_validation_failed`. Inputs listed here skip min/max/list checks.
   * @default {}
   */
  readonly validateInputs?: Readonly<Record<string, (value: unknown) => boolean | string>>
  /**
   * Like ComfyUI's `IS_CHANGED`, called once per prompt with the node's widget values: its result
   * joins the cache signature, so a different value makes the node run again. `NaN`, which equals
   * nothing (as Python's `float('nan')`), makes it run every time; so does a throw, as in ComfyUI.
   * @default undefined
   */
  readonly isChanged?: (inputs: Readonly<Record<string, unknown>>) => unknown
  /**
   * Like ComfyUI's `has_intermediate_output` (crop, painter, GLSL nodes; since v0.19.0): when the
   * node is served from cache, its cached UI is sent again as `executed`, with no `executing`,
   * after every other node and just before `execution_success`. `/object_info` shows it as
   * `has_intermediate_output`. Ignored by a simulator of version `'0.3.64'`.
   * @default false
   */
  readonly hasIntermediateOutput?: boolean
  /**
   * Computes the node's outputs and UI dict once its progress steps (or duration) are done.
   * Throwing makes the node fail with `execution_error`; throw a `SimulatedNodeError` to choose
   * the exception type.
   * @default returns no outputs and no UI
   */
  readonly execute?: (
    context: SimulatedNodeContext,
  ) => SimulatedNodeResult | undefined | Promise<SimulatedNodeResult | undefined>
}

/**
 * How long the nodes of one class take in a simulator (`ComfySimulatorOptions.timings`): the
 * timing fields of `SimulatedNodeType`.
 *
 * @example
 * ```ts
 * import type { SimulatedTiming } from 'comfyui-rx/simulator'
 *
 * // ComfyUI 0.3.64 on a CPU: a TAESD tile decode, as recorded
 * const decode: SimulatedTiming = { loadMs: 23, stepDurationMs: 280 }
 * ```
 */
export type SimulatedTiming = Pick<SimulatedNodeType, 'durationMs' | 'stepDurationMs' | 'loadMs'>
