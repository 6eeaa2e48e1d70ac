import type { JobEvent } from '../../src/index.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'

// Job events and updates of one prompt, for the SSE specs.

export const P = '0b0f6f38-5bd1-4c8c-9d3e-5c1f0f6f0a11'

export const queued = (position = 0): JobEvent => ({
  type: 'queued',
  promptId: P,
  source: 'websocket',
  position,
})

export const started: JobEvent = { type: 'started', promptId: P, source: 'websocket' }

export const progress = (value: number, eta?: number): JobEvent => ({
  type: 'progress',
  promptId: P,
  source: 'websocket',
  progress: value,
  nodes: {},
  totalValue: value,
  totalMax: 100,
  ...(eta === undefined ? {} : { estimatedTimeRemaining: eta }),
})

export const preview: JobEvent = {
  type: 'preview',
  promptId: P,
  source: 'websocket',
  mime: 'image/jpeg',
  image: new Uint8Array([1, 2, 3]),
}

export const completed: JobEvent = {
  type: 'completed',
  promptId: P,
  source: 'websocket',
  result: {
    promptId: P,
    status: 'completed',
    images: [
      {
        filename: 'ComfyUI_00001_.png',
        subfolder: '',
        type: 'output',
        url: 'http://pod:8188/view?filename=ComfyUI_00001_.png&subfolder=&type=output&token=s3cret',
      },
    ],
    outputs: {},
    durationMs: 1200,
    method: 'websocket',
    progressUpdates: 3,
  },
}

export const processing = (value: number, eta?: number): ProgressUpdate => ({
  promptId: P,
  status: 'processing',
  progress: value,
  ...(eta === undefined ? {} : { estimatedTimeRemaining: eta }),
})

export const done: ProgressUpdate = {
  promptId: P,
  status: 'completed',
  progress: 100,
  images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }],
}
