// comfyui-rx/simulator: a ComfyUI server (0.3.64 or 0.33) for tests and demos.
export { startComfySimulator } from './startComfySimulator.js'
export { COMFYUI_0_3_64_CPU_TIMINGS } from './recordedTimings.js'
export type { ComfySimulatorOptions } from './ComfySimulatorOptions.js'
export type {
  ComfySimulator,
  ComfySimulatorEvents,
  EndpointFailure,
  NodeFailure,
  RestartOptions,
} from './ComfySimulator.js'
export { SimulatedNodeError } from './SimulatedNodeError.js'
export type {
  SimulatedFileRef,
  SimulatedImage,
  SimulatedInputSpec,
  SimulatedLatent,
  SimulatedNodeContext,
  SimulatedNodeInputs,
  SimulatedNodeResult,
  SimulatedNodeType,
  SimulatedTiming,
} from './SimulatedNodeType.js'
export type { SimulatedModels } from './SimulatedModels.js'
export type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
