import type { SimulatedImage, SimulatedLatent } from './SimulatedNodeType.js'

// What the built-in nodes read from their inputs: a value a prompt or an upstream node may give
// in any shape, read with a fallback, as the imitations need no more.

/** nodes.MAX_RESOLUTION */
export const MAX_RESOLUTION = 16384

export const num = (value: unknown, fallback: number): number =>
  typeof value === 'number' ? value : fallback

export function asImage(value: unknown): SimulatedImage {
  const v = value as Partial<SimulatedImage> | null | undefined
  return {
    type: 'IMAGE',
    width: num(v?.width, 512),
    height: num(v?.height, 512),
    batchSize: num(v?.batchSize, 1),
    color: num(v?.color, 0x808080),
  }
}

export function asLatent(value: unknown): SimulatedLatent {
  const v = value as Partial<SimulatedLatent> | null | undefined
  const latent: SimulatedLatent = {
    type: 'LATENT',
    width: num(v?.width, 512),
    height: num(v?.height, 512),
    batchSize: num(v?.batchSize, 1),
  }
  return v?.color === undefined ? latent : { ...latent, color: v.color }
}

/** A stable colour per seed, so two prompts with different seeds give visibly different files. */
export function colorOf(seed: unknown): number {
  let h = 0x811c9dc5
  for (const ch of String(seed)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
  return h & 0xffffff
}

/** What a VAE decode of a latent gives: an image of its size, in its colour. */
export function decode(latent: SimulatedLatent): SimulatedImage {
  return {
    type: 'IMAGE',
    width: latent.width,
    height: latent.height,
    batchSize: latent.batchSize,
    color: latent.color ?? 0x7f7f7f,
  }
}
