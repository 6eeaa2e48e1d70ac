import { asLatent, colorOf, decode, MAX_RESOLUTION, num } from './nodeValues.js'
import type { SimulatedLatent, SimulatedNodeType } from './SimulatedNodeType.js'

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

type SamplingNode =
  'CLIPTextEncode' | 'EmptyLatentImage' | 'KSampler' | 'VAEDecode' | 'VAEDecodeTiled'

/** Text encoding, latents, the sampler and the VAE decoders. */
export const samplingNodeTypes: Readonly<Record<SamplingNode, SimulatedNodeType>> = {
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
            tooltip: 'The conditioning describing the attributes you want to include in the image.',
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
}
