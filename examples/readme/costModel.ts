import { ComfyPod, CostModel, shareCostModel, type Workflow } from 'comfyui-rx'
import { RedisProgressStore } from 'comfyui-rx/store' // needs ioredis

declare const workflow: Workflow

// One model for the pods of one kind of GPU, started from what the other instances learnt.
const store = new RedisProgressStore(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379')
const costModel = new CostModel({ priors: { MyUpscaler: { secondsPerRun: 4 } } })
await shareCostModel(store, costModel, { key: 'rtx-4090' })
const pod = new ComfyPod('http://gpu-1:8188', { costModel })

pod.executeWorkflow$(workflow).subscribe((event) => {
  if (event.type !== 'progress') return
  const left = event.estimatedTimeRemaining
  const doing = event.activity === 'loading' ? 'loading model…' : 'generating'
  console.log(`${event.progress}% ${doing}${left === undefined ? '' : `, ${left}s left`}`)
})

// Typical durations on this kind of pod, for a page to show before a job starts.
console.log(pod.costModel.typicalSeconds('KSampler', 30)) // 3.2
console.log(pod.costModel.costs()) // { KSampler: { secondsPerRun: 0.2, secondsPerStep: 0.1, steps: 20, runs: 14 }, … }
