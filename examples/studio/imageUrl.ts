import type { ComfyImage } from '../../src/job/ComfyUIJobResult.js'

/** Where the page loads a job's output image: the studio's proxy of the pod's `/view`. */
export function imageUrl(_image: ComfyImage, index: number, promptId: string): string {
  return `/api/image/comfyui/${promptId}/images/${index}`
}
