import type { NodeOutput } from '../protocol/ComfyMessage.js'
import type { ComfyImage } from './ComfyUIJobResult.js'

/** Builds the `/view` URL of an image. */
export type ViewUrl = (image: { filename: string; subfolder: string; type: string }) => string

/** Every image in the output nodes' UI outputs (`images: [{filename, subfolder, type}]`), in node order. */
export function imagesOf(
  outputs: Readonly<Record<string, NodeOutput>>,
  viewUrl: ViewUrl,
): ComfyImage[] {
  const images: ComfyImage[] = []
  for (const output of Object.values(outputs)) {
    const list = output['images']
    if (!Array.isArray(list)) continue
    for (const item of list as unknown[]) {
      if (typeof item !== 'object' || item === null) continue
      const { filename, subfolder = '', type = 'output' } = item as Record<string, unknown>
      if (typeof filename !== 'string' || typeof subfolder !== 'string' || typeof type !== 'string')
        continue
      images.push({ filename, subfolder, type, url: viewUrl({ filename, subfolder, type }) })
    }
  }
  return images
}
