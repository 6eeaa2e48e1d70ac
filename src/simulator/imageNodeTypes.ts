import { encodePng, pngSize } from './encodePng.js'
import type { FileStore } from './FileStore.js'
import { asImage, colorOf, MAX_RESOLUTION, num } from './nodeValues.js'
import { pyRepr, pyStr } from './python.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'
import type {
  SimulatedFileRef,
  SimulatedImage,
  SimulatedNodeContext,
  SimulatedNodeType,
} from './SimulatedNodeType.js'

const UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']

const SAVE_IMAGE_DESCRIPTION = 'Saves the input images to your ComfyUI output directory.'
const FILENAME_PREFIX_TOOLTIP =
  'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.'

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

/** Saves a node's images, with the PNG text chunks of the prompt being executed. */
export type SaveImages = (
  context: SimulatedNodeContext,
  images: SimulatedImage,
  type: 'output' | 'temp',
  prefix: string,
) => readonly SimulatedFileRef[]

type ImageNode =
  | 'SaveImage'
  | 'PreviewImage'
  | 'EmptyImage'
  | 'ImageInvert'
  | 'ImageBlur'
  | 'ImageScale'
  | 'LoadImage'
  | 'SaveImageWebsocket'
  | 'ImageCropV2'

/** The image nodes: sources, transforms and outputs (ImageCropV2 is a 0.33 node). */
export function imageNodeTypes(
  files: FileStore,
  saveImages: SaveImages,
): Record<ImageNode, SimulatedNodeType> {
  return {
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
    // comfy_extras/nodes_images.py ImageCropV2 (a V3 node, its inputs as add_to_dict_v1 lists
    // them): a built-in with has_intermediate_output; its UI is a preview of the crop.
    ImageCropV2: {
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
    },
  }
}
