// comfyui-rx/browser: progress updates in the browser, over EventSource. No Node module here.
export { progressUpdates$ } from './progressUpdates.js'
export type { EventSourceLike, ProgressUpdatesOptions } from './progressUpdates.js'
export { ProgressStreamError } from './ProgressStreamError.js'
export type { ProgressImage, ProgressStatus, ProgressUpdate } from '../progress/ProgressUpdate.js'
