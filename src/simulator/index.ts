// comfyui-rx/simulator: a ComfyUI 0.3.64 server for tests and demos.
export { startComfySimulator } from './startComfySimulator.js'
export type {
  ComfySimulator,
  ComfySimulatorEvents,
  ComfySimulatorOptions,
  EndpointFailure,
  NodeFailure,
  RestartOptions,
} from './startComfySimulator.js'
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
} from './SimulatedNodeType.js'
export type { SimulatedModels } from './builtinNodeTypes.js'
