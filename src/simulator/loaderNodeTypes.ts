import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

/** The loaders, whose combo lists are the simulator's `models`. */
export function loaderNodeTypes(
  models: SimulatedModels,
): Record<'CheckpointLoaderSimple' | 'VAELoader', SimulatedNodeType> {
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
    VAELoader: {
      input: { required: { vae_name: [models.vae] } },
      output: ['VAE'],
      displayName: 'Load VAE',
      category: 'loaders',
      pythonModule: 'nodes',
      execute: ({ inputs }) => ({ outputs: [{ type: 'VAE', name: inputs['vae_name'] }] }),
    },
  }
}
