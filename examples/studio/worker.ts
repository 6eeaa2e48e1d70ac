/**
 * A worker of the studio's fleet, in a process of its own:
 * `tsx examples/studio/worker.ts <redisUrl> <podUrl>[,<podUrl>…] [name]` takes the studio's jobs
 * from the queue in Redis and runs them on the pods, with the default options. It prints `ready`
 * once it takes jobs, then its clientIds, and runs until killed, or until its stdin closes (its parent is gone).
 * Kill it with SIGKILL mid-job: another worker takes the job over, and the page goes on.
 */
import { hostname } from 'node:os'
import { firstValueFrom } from 'rxjs'
import { startComfyWorker } from '../../src/queue/index.js'
import { imageUrl } from './imageUrl.js'

const [redisUrl, podUrls, name = `${hostname()}:${process.pid}`] = process.argv.slice(2)
if (redisUrl === undefined || podUrls === undefined) {
  console.error('usage: worker.ts <redisUrl> <podUrl>[,<podUrl>…] [name]')
  process.exit(2)
}

process.stdin.on('close', () => process.exit(0)).resume()

const worker = startComfyWorker({
  connection: redisUrl,
  pods: podUrls.split(','),
  workerName: name,
  progressUpdateOptions: { imageUrl },
})
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)))
await worker.ready()
console.log('ready')
// The clientIds its prompts are queued under, one per pod (a worker that takes its jobs over
// follows them under these).
const pods = await firstValueFrom(worker.pods$)
console.log(`clientIds ${JSON.stringify(pods.map((pod) => pod.clientId))}`)
