import { ComfyUIJobRunner, ComfyUIPodClient, type Workflow } from 'comfyui-rx'
import { posthogSink } from 'comfyui-rx/analytics' // needs posthog-node

declare const workflow: Workflow

const analytics = posthogSink({ apiKey: 'phc_…', host: 'https://eu.i.posthog.com' })
const client = new ComfyUIPodClient('http://127.0.0.1:8188', { analytics })
const result = await client.executeWorkflow(workflow, (progress) => console.log(`${progress}%`))
console.log(result.images.map((image) => image.url))

const runner = new ComfyUIJobRunner({ pods: ['http://gpu-1:8188', 'http://gpu-2:8188'], analytics })
await runner.submit(workflow, { onProgress: (progress) => console.log(progress) })
runner.metrics$.subscribe((m) =>
  console.log(m.connectionSuccessRate, m.fallbackRate, m.completionRate),
)
runner.close()
await analytics.close() // sends what is queued
