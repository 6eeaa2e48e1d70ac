/**
 * A backend instance in a process of its own, for the test that kills one mid-job:
 * `tsx spec/store/instance.ts <podUrl> <redisUrl> <instanceId> <steps>` starts a runner with the
 * Redis store (`ComfyUIJobRunner.recover`), submits a txt2img job, and prints
 * `{"promptId":…,"clientId":…}` once the pod took it. It runs until killed, or until its stdin
 * closes (its parent, the test, is gone).
 */
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import { RedisProgressStore } from '../../src/store/index.js'
import { txt2imgWith } from './storeTestKit.js'

const [podUrl, redisUrl, instanceId, steps] = process.argv.slice(2)
if (podUrl === undefined || redisUrl === undefined || instanceId === undefined) {
  console.error('usage: instance.ts <podUrl> <redisUrl> <instanceId> <steps>')
  process.exit(2)
}

process.stdin.on('close', () => process.exit(0)).resume()

const store = new RedisProgressStore(redisUrl)
const runner = await ComfyUIJobRunner.recover({ pods: [podUrl], store, instanceId })
let printed = false
runner.run$(txt2imgWith(Number(steps ?? 10)), { progressThrottleMs: 0 }).subscribe({
  next: (event) => {
    if (printed) return
    printed = true
    const clientId = runner.pods[0]!.clientId
    console.log(JSON.stringify({ promptId: event.promptId, clientId }))
  },
  error: (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
})
