import { encodePng, pngSize } from './encodePng.js'
import type { FileStore } from './FileStore.js'
import { pyFrame, pyRepr, pyStr } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'
import type {
  SimulatedImage,
  SimulatedLatent,
  SimulatedNodeContext,
  SimulatedNodeType,
} from './SimulatedNodeType.js'

// The node types a stock ComfyUI 0.3.64 has that the fixtures and a txt2img workflow use, with
// their real INPUT_TYPES (so /object_info and validation answer like the real server) and a
// cheap imitation of what they compute; plus, for 0.33, one node with an intermediate output.

/** Model files the loader nodes list (their combo inputs); the simulator's `models` option. */
export interface SimulatedModels {
  readonly checkpoints: readonly string[]
  readonly vae: readonly string[]
}

const MAX_RESOLUTION = 16384

const SAMPLERS = [
  'euler',
  'euler_cfg_pp',
  'euler_ancestral',
  'euler_ancestral_cfg_pp',
  'heun',
  'heunpp2',
  'dpm_2',
  'dpm_2_ancestral',
  'lms',
  'dpm_fast',
  'dpm_adaptive',
  'dpmpp_2s_ancestral',
  'dpmpp_2s_ancestral_cfg_pp',
  'dpmpp_sde',
  'dpmpp_sde_gpu',
  'dpmpp_2m',
  'dpmpp_2m_cfg_pp',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_gpu',
  'dpmpp_2m_sde_heun',
  'dpmpp_2m_sde_heun_gpu',
  'dpmpp_3m_sde',
  'dpmpp_3m_sde_gpu',
  'ddpm',
  'lcm',
  'ipndm',
  'ipndm_v',
  'deis',
  'res_multistep',
  'res_multistep_cfg_pp',
  'res_multistep_ancestral',
  'res_multistep_ancestral_cfg_pp',
  'gradient_estimation',
  'gradient_estimation_cfg_pp',
  'er_sde',
  'seeds_2',
  'seeds_3',
  'sa_solver',
  'sa_solver_pece',
  'ddim',
  'uni_pc',
  'uni_pc_bh2',
]

const SCHEDULERS = [
  'simple',
  'sgm_uniform',
  'karras',
  'exponential',
  'ddim_uniform',
  'beta',
  'normal',
  'linear_quadratic',
  'kl_optimal',
]

const UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']

const SAVE_IMAGE_DESCRIPTION = 'Saves the input images to your ComfyUI output directory.'
const FILENAME_PREFIX_TOOLTIP =
  'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.'

const num = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback)

function asImage(value: unknown): SimulatedImage {
  const v = value as Partial<SimulatedImage> | null | undefined
  return {
    type: 'IMAGE',
    width: num(v?.width, 512),
    height: num(v?.height, 512),
    batchSize: num(v?.batchSize, 1),
    color: num(v?.color, 0x808080),
  }
}

function asLatent(value: unknown): SimulatedLatent {
  const v = value as Partial<SimulatedLatent> | null | undefined
  const latent: SimulatedLatent = {
    type: 'LATENT',
    width: num(v?.width, 512),
    height: num(v?.height, 512),
    batchSize: num(v?.batchSize, 1),
  }
  return v?.color === undefined ? latent : { ...latent, color: v.color }
}

// A stable colour per seed, so two prompts with different seeds give visibly different files.
function colorOf(seed: unknown): number {
  let h = 0x811c9dc5
  for (const ch of String(seed)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
  return h & 0xffffff
}

function decode(latent: SimulatedLatent): SimulatedImage {
  return {
    type: 'IMAGE',
    width: latent.width,
    height: latent.height,
    batchSize: latent.batchSize,
    color: latent.color ?? 0x7f7f7f,
  }
}

// comfy.utils.get_tiled_scale_steps, summed over the three tile shapes VAE.decode_tiled_ uses.
function tiledDecodeSteps(inputs: Readonly<Record<string, unknown>>): number {
  const latent = asLatent(inputs['samples'])
  const tileSize = num(inputs['tile_size'], 512)
  let overlap = num(inputs['overlap'], 64)
  if (tileSize < overlap * 4) overlap = Math.floor(tileSize / 4)
  const tile = Math.floor(tileSize / 8)
  const o = Math.floor(overlap / 8)
  const w = Math.floor(latent.width / 8)
  const h = Math.floor(latent.height / 8)
  const steps = (tx: number, ty: number) =>
    Math.ceil(h / Math.max(1, ty - o)) * Math.ceil(w / Math.max(1, tx - o))
  return (
    latent.batchSize *
    (steps(tile, tile) +
      steps(Math.floor(tile / 2), tile * 2) +
      steps(tile * 2, Math.floor(tile / 2)))
  )
}

const EXECUTE_FRAMES = [
  pyFrame(
    'ComfyUI/execution.py',
    496,
    'execute',
    'output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)',
  ),
  pyFrame(
    'ComfyUI/execution.py',
    315,
    'get_output_data',
    'return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)',
  ),
  pyFrame(
    'ComfyUI/execution.py',
    289,
    '_async_map_node_over_list',
    'await process_inputs(input_dict, i)',
  ),
  pyFrame('ComfyUI/execution.py', 277, 'process_inputs', 'result = f(**inputs)'),
]

/** The frames ComfyUI's executor adds above a node's own code in a traceback. */
export const executorFrames: readonly string[] = EXECUTE_FRAMES

// Python's `re` and JavaScript's RegExp agree on the common syntax; translate the named-group
// spellings and report syntax errors the way `re.error` words them.
function pythonRegex(pattern: string, flags: string): RegExp {
  const source = pattern.replaceAll('(?P<', '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
  try {
    return new RegExp(source, flags)
  } catch (error) {
    throw new SimulatedNodeError(reError(pattern, (error as Error).message), {
      exceptionType: 're.error',
      traceback: [
        ...EXECUTE_FRAMES,
        pyFrame(
          'ComfyUI/comfy_extras/nodes_string.py',
          363,
          'execute',
          'result = re.sub(regex_pattern, replace, string, count=count, flags=flags)',
        ),
        pyFrame(
          '/usr/lib/python3.11/re/__init__.py',
          185,
          'sub',
          'return _compile(pattern, flags).sub(repl, string, count)',
        ),
        pyFrame(
          '/usr/lib/python3.11/re/__init__.py',
          294,
          '_compile',
          'p = _compiler.compile(pattern, flags)',
        ),
      ],
    })
  }
}

function reError(pattern: string, jsMessage: string): string {
  const open: number[] = []
  let unmatchedClose = -1
  let classStart = -1
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '\\') {
      i++
    } else if (classStart >= 0) {
      if (ch === ']') classStart = -1
    } else if (ch === '[') {
      classStart = i
    } else if (ch === '(') {
      open.push(i)
    } else if (ch === ')') {
      if (open.pop() === undefined && unmatchedClose < 0) unmatchedClose = i
    }
  }
  if (/unterminated group/i.test(jsMessage) && open.length > 0) {
    return `missing ), unterminated subpattern at position ${open[0]}`
  }
  if (/unmatched '\)'/i.test(jsMessage) && unmatchedClose >= 0) {
    return `unbalanced parenthesis at position ${unmatchedClose}`
  }
  if (/unterminated character class/i.test(jsMessage) && classStart >= 0) {
    return `unterminated character set at position ${classStart}`
  }
  if (/\\ at end of pattern/i.test(jsMessage)) {
    return `bad escape (end of pattern) at position ${pattern.length - 1}`
  }
  if (/nothing to repeat/i.test(jsMessage)) return 'nothing to repeat at position 0'
  return `${jsMessage.replace(/^Invalid regular expression: \/.*\/\w*: /s, '').toLowerCase()} at position 0`
}

// re.sub with a Python replacement template (\1, \g<1>, \g<name>) and a count (0 = all).
function pythonSub(regex: RegExp, template: string, text: string, count: number): string {
  const expand = (match: RegExpExecArray) =>
    template.replace(/\\(?:g<(\w+)>|(\d{1,2})|(.))/gs, (_, named, digits, other) => {
      const group = named ?? digits
      if (group !== undefined) {
        const value = /^\d+$/.test(group) ? match[Number(group)] : match.groups?.[group]
        return value ?? ''
      }
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' }
      return escapes[other as string] ?? `\\${other as string}`
    })
  let out = ''
  let last = 0
  let done = 0
  for (const match of text.matchAll(regex)) {
    if (count > 0 && done >= count) break
    out += text.slice(last, match.index) + expand(match)
    last = match.index + match[0].length
    done++
  }
  return out + text.slice(last)
}

// PreviewAny's text: strings as they are, numbers and booleans with str(), the rest as JSON.
function previewText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return pyStr(value)
  try {
    return JSON.stringify(value, null, 4)
  } catch {
    return 'source exists, but could not be serialized.'
  }
}

const TEMP_LETTERS = 'abcdefghijklmnopqrstupvxyz' // sic: ComfyUI's own alphabet

// What preview images are saved as: `ComfyUI_temp_` and five random letters.
function tempPrefix(): string {
  let suffix = ''
  for (let i = 0; i < 5; i++) {
    suffix += TEMP_LETTERS[Math.floor(Math.random() * TEMP_LETTERS.length)] ?? 'a'
  }
  return `ComfyUI_temp_${suffix}`
}

function annotatedInput(name: string): { subfolder: string; filename: string } {
  const bare = name.replace(/ \[(input|output|temp)\]$/, '')
  const slash = bare.lastIndexOf('/')
  return slash < 0
    ? { subfolder: '', filename: bare }
    : { subfolder: bare.slice(0, slash), filename: bare.slice(slash + 1) }
}

function pngText(extra: { prompt: unknown; extraPngInfo: unknown }) {
  const text: Record<string, string> = {}
  if (extra.prompt !== undefined) text['prompt'] = JSON.stringify(extra.prompt)
  if (extra.extraPngInfo !== null && typeof extra.extraPngInfo === 'object') {
    for (const [k, v] of Object.entries(extra.extraPngInfo)) text[k] = JSON.stringify(v)
  }
  return text
}

/**
 * The built-in node catalogue of a ComfyUI version. `hidden` gives SaveImage the prompt and
 * extra_pnginfo it embeds in its PNGs, as ComfyUI's hidden inputs do.
 */
export function builtinNodeTypes(
  models: SimulatedModels,
  files: FileStore,
  hidden: (context: SimulatedNodeContext) => { prompt: unknown; extraPngInfo: unknown },
  version: SimulatedComfyVersion,
): Record<string, SimulatedNodeType> {
  const saveImages = (
    context: SimulatedNodeContext,
    images: SimulatedImage,
    type: 'output' | 'temp',
    prefix: string,
  ) => files.saveImages(images, type, prefix, pngText(hidden(context)))

  // comfy_extras/nodes_images.py ImageCropV2 (a V3 node, its inputs as add_to_dict_v1 lists
  // them): a built-in with has_intermediate_output; its UI is a preview of the crop.
  const imageCropV2: SimulatedNodeType = {
    input: {
      required: {
        image: ['IMAGE', {}],
        crop_region: [
          'BOUNDING_BOX',
          {
            default: { x: 0, y: 0, width: 512, height: 512 },
            socketless: true,
            component: 'ImageCrop',
          },
        ],
      },
    },
    output: ['IMAGE'],
    displayName: 'Crop Image',
    description: 'Crop an image to the specified dimensions.',
    category: 'image/transform',
    pythonModule: 'comfy_extras.nodes_images',
    hasIntermediateOutput: true,
    execute: (context) => {
      const image = asImage(context.inputs['image'])
      const region = (context.inputs['crop_region'] ?? {}) as Record<string, unknown>
      // Tensor slicing: the origin stays inside the image, the size is cut at its edges.
      const x = Math.max(0, Math.min(num(region['x'], 0), image.width - 1))
      const y = Math.max(0, Math.min(num(region['y'], 0), image.height - 1))
      const cropped: SimulatedImage = {
        ...image,
        width: Math.max(1, Math.min(num(region['width'], 512), image.width - x)),
        height: Math.max(1, Math.min(num(region['height'], 512), image.height - y)),
      }
      return {
        outputs: [cropped],
        ui: { images: saveImages(context, cropped, 'temp', tempPrefix()), animated: [false] },
      }
    },
  }

  return {
    CheckpointLoaderSimple: {
      input: {
        required: {
          ckpt_name: [
            models.checkpoints,
            { tooltip: 'The name of the checkpoint (model) to load.' },
          ],
        },
      },
      output: ['MODEL', 'CLIP', 'VAE'],
      outputTooltips: [
        'The model used for denoising latents.',
        'The CLIP model used for encoding text prompts.',
        'The VAE model used for encoding and decoding images to and from latent space.',
      ],
      displayName: 'Load Checkpoint',
      description:
        'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
      category: 'loaders',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({
        outputs: ['MODEL', 'CLIP', 'VAE'].map((type) => ({ type, name: inputs['ckpt_name'] })),
      }),
    },
    CLIPTextEncode: {
      input: {
        required: {
          text: [
            'STRING',
            { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' },
          ],
          clip: ['CLIP', { tooltip: 'The CLIP model used for encoding the text.' }],
        },
      },
      output: ['CONDITIONING'],
      outputTooltips: [
        'A conditioning containing the embedded text used to guide the diffusion model.',
      ],
      displayName: 'CLIP Text Encode (Prompt)',
      description:
        'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
      category: 'conditioning',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({ outputs: [{ type: 'CONDITIONING', text: inputs['text'] }] }),
    },
    EmptyLatentImage: {
      input: {
        required: {
          width: [
            'INT',
            {
              default: 512,
              min: 16,
              max: MAX_RESOLUTION,
              step: 8,
              tooltip: 'The width of the latent images in pixels.',
            },
          ],
          height: [
            'INT',
            {
              default: 512,
              min: 16,
              max: MAX_RESOLUTION,
              step: 8,
              tooltip: 'The height of the latent images in pixels.',
            },
          ],
          batch_size: [
            'INT',
            { default: 1, min: 1, max: 4096, tooltip: 'The number of latent images in the batch.' },
          ],
        },
      },
      output: ['LATENT'],
      outputTooltips: ['The empty latent image batch.'],
      displayName: 'Empty Latent Image',
      description: 'Create a new batch of empty latent images to be denoised via sampling.',
      category: 'latent',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({
        outputs: [
          {
            type: 'LATENT',
            width: num(inputs['width'], 512),
            height: num(inputs['height'], 512),
            batchSize: num(inputs['batch_size'], 1),
          } satisfies SimulatedLatent,
        ],
      }),
    },
    KSampler: {
      input: {
        required: {
          model: ['MODEL', { tooltip: 'The model used for denoising the input latent.' }],
          seed: [
            'INT',
            {
              default: 0,
              min: 0,
              // 0xffffffffffffffff in Python; JSON and JavaScript round it the same way.
              max: 2 ** 64 - 1,
              control_after_generate: true,
              tooltip: 'The random seed used for creating the noise.',
            },
          ],
          steps: [
            'INT',
            {
              default: 20,
              min: 1,
              max: 10000,
              tooltip: 'The number of steps used in the denoising process.',
            },
          ],
          cfg: [
            'FLOAT',
            {
              default: 8.0,
              min: 0.0,
              max: 100.0,
              step: 0.1,
              round: 0.01,
              tooltip:
                'The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values result in images more closely matching the prompt however too high values will negatively impact quality.',
            },
          ],
          sampler_name: [
            SAMPLERS,
            {
              tooltip:
                'The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.',
            },
          ],
          scheduler: [
            SCHEDULERS,
            { tooltip: 'The scheduler controls how noise is gradually removed to form the image.' },
          ],
          positive: [
            'CONDITIONING',
            {
              tooltip:
                'The conditioning describing the attributes you want to include in the image.',
            },
          ],
          negative: [
            'CONDITIONING',
            {
              tooltip:
                'The conditioning describing the attributes you want to exclude from the image.',
            },
          ],
          latent_image: ['LATENT', { tooltip: 'The latent image to denoise.' }],
          denoise: [
            'FLOAT',
            {
              default: 1.0,
              min: 0.0,
              max: 1.0,
              step: 0.01,
              tooltip:
                'The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling.',
            },
          ],
        },
      },
      output: ['LATENT'],
      outputTooltips: ['The denoised latent.'],
      displayName: 'KSampler',
      description:
        'Uses the provided model, positive and negative conditioning to denoise the latent image.',
      category: 'sampling',
      pythonModule: 'nodes',
      steps: (inputs) => num(inputs['steps'], 20),
      previews: true,
      execute: ({ inputs }) => ({
        outputs: [{ ...asLatent(inputs['latent_image']), color: colorOf(inputs['seed']) }],
      }),
    },
    VAEDecode: {
      input: {
        required: {
          samples: ['LATENT', { tooltip: 'The latent to be decoded.' }],
          vae: ['VAE', { tooltip: 'The VAE model used for decoding the latent.' }],
        },
      },
      output: ['IMAGE'],
      outputTooltips: ['The decoded image.'],
      displayName: 'VAE Decode',
      description: 'Decodes latent images back into pixel space images.',
      category: 'latent',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({ outputs: [decode(asLatent(inputs['samples']))] }),
    },
    VAEDecodeTiled: {
      input: {
        required: {
          samples: ['LATENT'],
          vae: ['VAE'],
          tile_size: ['INT', { default: 512, min: 64, max: 4096, step: 32 }],
          overlap: ['INT', { default: 64, min: 0, max: 4096, step: 32 }],
          temporal_size: [
            'INT',
            {
              default: 64,
              min: 8,
              max: 4096,
              step: 4,
              tooltip: 'Only used for video VAEs: Amount of frames to decode at a time.',
            },
          ],
          temporal_overlap: [
            'INT',
            {
              default: 8,
              min: 4,
              max: 4096,
              step: 4,
              tooltip: 'Only used for video VAEs: Amount of frames to overlap.',
            },
          ],
        },
      },
      output: ['IMAGE'],
      displayName: 'VAE Decode (Tiled)',
      category: '_for_testing',
      pythonModule: 'nodes',
      steps: tiledDecodeSteps,
      execute: ({ inputs }) => ({ outputs: [decode(asLatent(inputs['samples']))] }),
    },
    VAELoader: {
      input: { required: { vae_name: [models.vae] } },
      output: ['VAE'],
      displayName: 'Load VAE',
      category: 'loaders',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({ outputs: [{ type: 'VAE', name: inputs['vae_name'] }] }),
    },
    SaveImage: {
      input: {
        required: {
          images: ['IMAGE', { tooltip: 'The images to save.' }],
          filename_prefix: ['STRING', { default: 'ComfyUI', tooltip: FILENAME_PREFIX_TOOLTIP }],
        },
        hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
      },
      output: [],
      outputNode: true,
      displayName: 'Save Image',
      description: SAVE_IMAGE_DESCRIPTION,
      category: 'image',
      pythonModule: 'nodes',
      execute: (context) => ({
        ui: {
          images: saveImages(
            context,
            asImage(context.inputs['images']),
            'output',
            pyStr(context.inputs['filename_prefix']),
          ),
        },
      }),
    },
    PreviewImage: {
      input: {
        required: { images: ['IMAGE'] },
        hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
      },
      output: [],
      outputNode: true,
      displayName: 'Preview Image',
      description: SAVE_IMAGE_DESCRIPTION,
      category: 'image',
      pythonModule: 'nodes',
      execute: (context) => ({
        ui: {
          images: saveImages(context, asImage(context.inputs['images']), 'temp', tempPrefix()),
        },
      }),
    },
    EmptyImage: {
      input: {
        required: {
          width: ['INT', { default: 512, min: 1, max: MAX_RESOLUTION, step: 1 }],
          height: ['INT', { default: 512, min: 1, max: MAX_RESOLUTION, step: 1 }],
          batch_size: ['INT', { default: 1, min: 1, max: 4096 }],
          color: ['INT', { default: 0, min: 0, max: 0xffffff, step: 1, display: 'color' }],
        },
      },
      output: ['IMAGE'],
      category: 'image',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({
        outputs: [
          {
            type: 'IMAGE',
            width: num(inputs['width'], 512),
            height: num(inputs['height'], 512),
            batchSize: num(inputs['batch_size'], 1),
            color: num(inputs['color'], 0) & 0xffffff,
          } satisfies SimulatedImage,
        ],
      }),
    },
    ImageInvert: {
      input: { required: { image: ['IMAGE'] } },
      output: ['IMAGE'],
      displayName: 'Invert Image',
      category: 'image',
      pythonModule: 'nodes',
      execute: ({ inputs }) => {
        const image = asImage(inputs['image'])
        return { outputs: [{ ...image, color: image.color ^ 0xffffff }] }
      },
    },
    ImageBlur: {
      input: {
        required: {
          image: ['IMAGE'],
          blur_radius: ['INT', { default: 1, min: 1, max: 31, step: 1 }],
          sigma: ['FLOAT', { default: 1.0, min: 0.1, max: 10.0, step: 0.1 }],
        },
      },
      output: ['IMAGE'],
      displayName: 'Image Blur',
      category: 'image/postprocessing',
      pythonModule: 'comfy_extras.nodes_post_processing',
      execute: ({ inputs }) => ({ outputs: [asImage(inputs['image'])] }),
    },
    ImageScale: {
      input: {
        required: {
          image: ['IMAGE'],
          upscale_method: [UPSCALE_METHODS],
          width: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
          height: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
          crop: [['disabled', 'center']],
        },
      },
      output: ['IMAGE'],
      displayName: 'Upscale Image',
      category: 'image/upscaling',
      pythonModule: 'nodes',
      execute: ({ inputs }) => {
        const image = asImage(inputs['image'])
        let width = num(inputs['width'], 0)
        let height = num(inputs['height'], 0)
        if (width === 0 && height === 0) return { outputs: [image] }
        if (width === 0) width = Math.max(1, Math.round((image.width * height) / image.height))
        if (height === 0) height = Math.max(1, Math.round((image.height * width) / image.width))
        return { outputs: [{ ...image, width, height }] }
      },
    },
    LoadImage: {
      input: () => ({ required: { image: [files.list('input'), { image_upload: true }] } }),
      output: ['IMAGE', 'MASK'],
      displayName: 'Load Image',
      category: 'image',
      pythonModule: 'nodes',
      validateInputs: {
        image: (value) => {
          const { subfolder, filename } = annotatedInput(pyStr(value))
          return files.read('input', subfolder, filename) !== undefined
            ? true
            : `Invalid image file: ${pyStr(value)}`
        },
      },
      isChanged: (inputs) => {
        const { subfolder, filename } = annotatedInput(pyStr(inputs['image']))
        return files.digest('input', subfolder, filename)
      },
      execute: ({ inputs }) => {
        const { subfolder, filename } = annotatedInput(pyStr(inputs['image']))
        const bytes = files.read('input', subfolder, filename)
        if (bytes === undefined) {
          throw new SimulatedNodeError(`[Errno 2] No such file or directory: ${pyRepr(filename)}`, {
            exceptionType: 'FileNotFoundError',
          })
        }
        const size = pngSize(bytes) ?? { width: 512, height: 512 }
        const image: SimulatedImage = {
          type: 'IMAGE',
          ...size,
          batchSize: 1,
          color: colorOf(filename),
        }
        return { outputs: [image, { type: 'MASK', width: size.width, height: size.height }] }
      },
    },
    RegexReplace: {
      input: {
        required: {
          string: ['STRING', { multiline: true }],
          regex_pattern: ['STRING', { multiline: true }],
          replace: ['STRING', { multiline: true }],
        },
        optional: {
          case_insensitive: ['BOOLEAN', { default: true }],
          multiline: ['BOOLEAN', { default: false }],
          dotall: [
            'BOOLEAN',
            {
              default: false,
              tooltip:
                "When enabled, the dot (.) character will match any character including newline characters. When disabled, dots won't match newlines.",
            },
          ],
          count: [
            'INT',
            {
              default: 0,
              min: 0,
              max: 100,
              tooltip:
                'Maximum number of replacements to make. Set to 0 to replace all occurrences (default). Set to 1 to replace only the first match, 2 for the first two matches, etc.',
            },
          ],
        },
      },
      output: ['STRING'],
      displayName: 'Regex Replace',
      description: 'Find and replace text using regex patterns.',
      category: 'utils/string',
      pythonModule: 'comfy_extras.nodes_string',
      execute: ({ inputs }) => {
        let flags = 'g'
        if (inputs['case_insensitive'] ?? true) flags += 'i'
        if (inputs['multiline'] === true) flags += 'm'
        if (inputs['dotall'] === true) flags += 's'
        const regex = pythonRegex(pyStr(inputs['regex_pattern']), flags)
        const result = pythonSub(
          regex,
          pyStr(inputs['replace']),
          pyStr(inputs['string']),
          num(inputs['count'], 0),
        )
        return { outputs: [result] }
      },
    },
    PreviewAny: {
      input: { required: { source: ['*', {}] } },
      output: [],
      outputNode: true,
      displayName: 'Preview Any',
      category: 'utils',
      pythonModule: 'comfy_extras.nodes_preview_any',
      execute: ({ inputs }) => ({ ui: { text: [previewText(inputs['source'])] } }),
    },
    SaveImageWebsocket: {
      input: { required: { images: ['IMAGE'] } },
      output: [],
      outputNode: true,
      category: 'api node/image',
      pythonModule: 'custom_nodes.websocket_image_save',
      // IS_CHANGED returns time.time(), new on every run, so the node is never served from cache;
      // NaN says the same without depending on the resolution of a clock.
      isChanged: () => Number.NaN,
      // The real node sends each image through the progress hook (value 0-based) and returns no
      // UI, so it gets no `executed`.
      execute: (context) => {
        const images = asImage(context.inputs['images'])
        const scale = Math.min(1, 1024 / Math.max(images.width, images.height, 1))
        const png = encodePng(images.width * scale, images.height * scale, images.color)
        for (let step = 0; step < images.batchSize; step++) {
          context.progress(step, images.batchSize, png)
        }
        return {}
      },
    },
    ...(version === '0.33' ? { ImageCropV2: imageCropV2 } : {}),
  }
}
