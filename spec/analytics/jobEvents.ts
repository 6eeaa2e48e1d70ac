import type { JobEvent, JobMethod } from '../../src/index.js'

// JobEvents as a pod's job emits them, for virtual-time tests of consumers.

export const queued = (promptId: string, source: JobMethod = 'websocket'): JobEvent => ({
  type: 'queued',
  promptId,
  source,
  position: 0,
})

export const started = (promptId: string, source: JobMethod = 'websocket'): JobEvent => ({
  type: 'started',
  promptId,
  source,
})

export const progress = (
  promptId: string,
  value: number,
  source: JobMethod = 'websocket',
): JobEvent => ({
  type: 'progress',
  promptId,
  source,
  progress: value,
  nodes: {},
  totalValue: value,
  totalMax: 100,
})

export const completed = (
  promptId: string,
  method: JobMethod = 'websocket',
  durationMs = 1234,
  progressUpdates = 3,
): JobEvent => ({
  type: 'completed',
  promptId,
  source: method,
  result: {
    promptId,
    status: 'completed',
    images: [],
    outputs: {},
    durationMs,
    method,
    progressUpdates,
  },
})
