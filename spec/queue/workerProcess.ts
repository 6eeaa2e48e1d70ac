/**
 * A worker of the fleet in a process of its own, for the tests that kill one (SIGKILL):
 * `node --import tsx spec/queue/workerProcess.ts <redisUrl> <podUrl>[,<podUrl>…]` starts
 * `startComfyWorker` with its default options and prints `ready` once it takes jobs. It runs
 * until killed, or until its stdin closes (its parent, the test, is gone).
 */
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
