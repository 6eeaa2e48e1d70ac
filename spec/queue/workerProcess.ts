/**
 * A worker of the fleet in a process of its own, for the tests that kill one (SIGKILL):
 * `node --import tsx spec/queue/workerProcess.ts <redisUrl> <podUrl>[,<podUrl>…]` starts
 * `startComfyWorker` with its default options and prints `ready` once it takes jobs, then
 * `clientIds ["…", …]`: the clientIds of its pods, in the order given (a test can tell whose
 * prompts a pod has). It runs until killed, or until its stdin closes (its parent, the test, is
 * gone).
 */
import { firstValueFrom } from 'rxjs'
import { startComfyWorker } from '../../src/queue/index.js'

const [redisUrl, podUrls] = process.argv.slice(2)
if (redisUrl === undefined || podUrls === undefined) {
  console.error('usage: workerProcess.ts <redisUrl> <podUrl>[,<podUrl>…]')
  process.exit(2)
}

process.stdin.on('close', () => process.exit(0)).resume()

const worker = startComfyWorker({ connection: redisUrl, pods: podUrls.split(',') })
await worker.ready()
console.log('ready')
const pods = await firstValueFrom(worker.pods$)
console.log(`clientIds ${JSON.stringify(pods.map((pod) => pod.clientId))}`)
