// comfyui-rx/queue: several backend instances on BullMQ, apart so that bullmq and ioredis stay
// optional peers.
export { ComfyJobQueue } from './ComfyJobQueue.js'
export type { ComfyJobQueueOptions, QueuedJob } from './ComfyJobQueue.js'
export { startComfyWorker } from './startComfyWorker.js'
export type { ComfyWorker } from './startComfyWorker.js'
export type { ComfyWorkerOptions } from './ComfyWorkerOptions.js'
export type { QueueOptions } from './QueueOptions.js'
export type { QueueConnection } from './QueueConnection.js'
export type { QueueJobOptions, QueuedRunOptions } from './QueueJobOptions.js'
