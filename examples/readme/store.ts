import { createServer } from 'node:http'
import { ComfyUIJobRunner, toServerSentEvents, watchProgress$, type Workflow } from 'comfyui-rx'
import { RedisProgressStore } from 'comfyui-rx/store' // needs ioredis

declare const workflow: Workflow

// Every instance: the same Redis, and a name of its own that it keeps across restarts.
const store = new RedisProgressStore(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379')
store.diagnostics$.subscribe((diagnostic) => console.warn('progress store:', diagnostic.type))
const runner = await ComfyUIJobRunner.recover({
  pods: ['http://gpu-1:8188', 'http://gpu-2:8188'],
  store,
  instanceId: process.env['HOSTNAME'] ?? 'api-1',
})
console.log(`resumed ${runner.recovered.length} jobs of the previous run`)

// Any instance streams any prompt's progress, whichever instance runs it.
createServer(async (req, res) => {
  const promptId = new URL(req.url ?? '/', 'http://api').searchParams.get('promptId') ?? ''
  if (promptId === '' || (await store.latest(promptId)) === undefined)
    return void res.writeHead(404).end()
  toServerSentEvents(watchProgress$(store, promptId), res)
}).listen(3000)

// Its progress goes to Redis as it runs.
const result = await runner.submit(workflow)
console.log(result.images[0]?.url)
