import type { FileStore } from './FileStore.js'
import { imageNodeTypes } from './imageNodeTypes.js'
import { loaderNodeTypes } from './loaderNodeTypes.js'
import { samplingNodeTypes } from './samplingNodeTypes.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeContext, SimulatedNodeType } from './SimulatedNodeType.js'
import { utilityNodeTypes } from './utilityNodeTypes.js'

// The node types a stock ComfyUI 0.3.64 has that the fixtures and a txt2img workflow use, with
// their real INPUT_TYPES (so /object_info and validation answer like the real server) and a
// cheap imitation of what they compute; plus, for 0.33, one node with an intermediate output.

function pngText(extra: { prompt: unknown; extraPngInfo: unknown }) {
  const text: Record<string, string> = {}
  if (extra.prompt !== undefined) text['prompt'] = JSON.stringify(extra.prompt)
  if (extra.extraPngInfo !== null && typeof extra.extraPngInfo === 'object') {
    for (const [k, v] of Object.entries(extra.extraPngInfo)) text[k] = JSON.stringify(v)
  }
  return text
}

/**
 * The built-in node catalogue of a ComfyUI version, in the order /object_info lists it. `hidden`
 * gives SaveImage the prompt and extra_pnginfo it embeds in its PNGs, as ComfyUI's hidden inputs
 * do.
 */
export function builtinNodeTypes(
  models: SimulatedModels,
  files: FileStore,
  hidden: (context: SimulatedNodeContext) => { prompt: unknown; extraPngInfo: unknown },
  version: SimulatedComfyVersion,
): Record<string, SimulatedNodeType> {
  const { CheckpointLoaderSimple, VAELoader } = loaderNodeTypes(models)
  const { CLIPTextEncode, EmptyLatentImage, KSampler, VAEDecode, VAEDecodeTiled } =
    samplingNodeTypes
  const {
    SaveImage,
    PreviewImage,
    EmptyImage,
    ImageInvert,
    ImageBlur,
    ImageScale,
    LoadImage,
    SaveImageWebsocket,
    ImageCropV2,
  } = imageNodeTypes(files, (context, images, type, prefix) =>
    files.saveImages(images, type, prefix, pngText(hidden(context))),
  )
  const { RegexReplace, PreviewAny } = utilityNodeTypes
  return {
    CheckpointLoaderSimple,
    CLIPTextEncode,
    EmptyLatentImage,
    KSampler,
    VAEDecode,
    VAEDecodeTiled,
    VAELoader,
    SaveImage,
    PreviewImage,
    EmptyImage,
    ImageInvert,
    ImageBlur,
    ImageScale,
    LoadImage,
    RegexReplace,
    PreviewAny,
    SaveImageWebsocket,
    ...(version === '0.33' ? { ImageCropV2 } : {}),
  }
}
