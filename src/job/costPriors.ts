import type { ClassCost } from './ClassCost.js'

// What a pod is assumed to take before it has run a class, on a mid-range GPU (SD 1.5 at 512×512
// runs about 10 sampler steps a second; a checkpoint loads from disk in a few seconds). Wrong by
// a factor on other hardware: a job corrects them from the steps it sees, and the model replaces
// them with the pod's own times after one run.
const loader: ClassCost = { secondsPerRun: 3, runs: 0 }
const sampler: ClassCost = { secondsPerRun: 0.3, secondsPerStep: 0.1, steps: 20, runs: 0 }
const light: ClassCost = { secondsPerRun: 0.05, runs: 0 }

const PRIORS: ReadonlyMap<string, ClassCost> = new Map<string, ClassCost>([
  ['CheckpointLoaderSimple', loader],
  ['CheckpointLoader', loader],
  ['UNETLoader', loader],
  ['DualCLIPLoader', loader],
  ['CLIPLoader', { secondsPerRun: 1.5, runs: 0 }],
  ['VAELoader', { secondsPerRun: 0.5, runs: 0 }],
  ['LoraLoader', { secondsPerRun: 1, runs: 0 }],
  ['ControlNetLoader', { secondsPerRun: 1, runs: 0 }],
  ['UpscaleModelLoader', { secondsPerRun: 0.5, runs: 0 }],
  ['KSampler', sampler],
  ['KSamplerAdvanced', sampler],
  ['SamplerCustom', sampler],
  ['SamplerCustomAdvanced', sampler],
  ['VAEDecode', { secondsPerRun: 0.3, runs: 0 }],
  ['VAEEncode', { secondsPerRun: 0.3, runs: 0 }],
  ['VAEDecodeTiled', { secondsPerRun: 0.2, secondsPerStep: 0.1, steps: 8, runs: 0 }],
  ['CLIPTextEncode', { secondsPerRun: 0.1, runs: 0 }],
  ['EmptyLatentImage', light],
  ['EmptyImage', light],
  ['SaveImage', { secondsPerRun: 0.2, runs: 0 }],
  ['PreviewImage', { secondsPerRun: 0.1, runs: 0 }],
])

/** Any other class: a node without steps that takes a moment. */
const UNKNOWN: ClassCost = { secondsPerRun: 0.2, runs: 0 }

/** A node that reports steps though its class was not known to: a guess per step. */
export const PRIOR_SECONDS_PER_STEP = 0.1

/** The cost assumed for a class never run on the pod. */
export function priorCost(classType: string): ClassCost {
  return PRIORS.get(classType) ?? UNKNOWN
}
