import { createServer } from 'node:http'
import { toServerSentEvents, type Workflow } from 'comfyui-rx'
import { ComfyJobQueue, startComfyWorker } from 'comfyui-rx/queue' // needs bullmq and ioredis

declare const workflow: Workflow
const connection = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'

// Every instance that talks to pods runs a worker; its name does not matter.
const worker = startComfyWorker({
  connection,
  pods: ['http://gpu-1:8188', 'http://gpu-2:8188'],
  concurrencyPerPod: 2,
})
process.once('SIGTERM', () => void worker.close()) // drains: its jobs end first

// Any instance adds jobs and streams any job's progress, whichever worker runs it.
const queue = new ComfyJobQueue({ connection })
const { jobId } = await queue.add(workflow, { jobId: 'order-42', attempts: 3 })

createServer(async (req, res) => {
  const id = new URL(req.url ?? '/', 'http://api').searchParams.get('jobId') ?? ''
  if (id === '' || (await queue.latest(id)) === undefined) return void res.writeHead(404).end()
  toServerSentEvents(queue.events$(id), res) // from the latest state to the final one
}).listen(3000)

const result = await queue.result(jobId) // or the job's typed error
console.log(result.images[0]?.filename)
