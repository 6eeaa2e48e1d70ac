import { ComfyExecutionError, ComfyPod, ComfyValidationError, type Workflow } from 'comfyui-rx'

declare const workflow: Workflow // an API-format workflow ("Export (API)" in ComfyUI)

const pod = new ComfyPod('http://127.0.0.1:8188')

pod.executeWorkflow$(workflow, { progressThrottleMs: 500, timeoutMs: 10 * 60_000 }).subscribe({
  next: (event) => {
    switch (event.type) {
      case 'queued':
        console.log(`queued, position ${event.position}`)
        break
      case 'progress':
        console.log(
          `${event.progress}% node ${event.currentNode} ETA ${event.estimatedTimeRemaining}s`,
        )
        break
      case 'completed':
        console.log(event.result.images.map((image) => image.url))
        break
    }
  },
  error: (error) => {
    if (error instanceof ComfyValidationError) console.error(error.nodeErrors)
    else if (error instanceof ComfyExecutionError)
      console.error(error.nodeId, error.exceptionMessage)
    else console.error(error)
  },
})
