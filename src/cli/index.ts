// comfyui-rx/cli: the `comfyui-rx` command in-process, and its progress bar.
export { runCli } from './runCli.js'
export type { RunCliOptions } from './runCli.js'
export type { CliOutput } from './CliContext.js'
export { renderProgress } from './renderProgress.js'
export type { RenderProgressOptions } from './renderProgress.js'
