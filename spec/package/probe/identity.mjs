// Run by tarball.spec.ts with `node`, in a project where the packed comfyui-rx is installed: what
// each entry point exports, and which classes of 'comfyui-rx' the errors of the others are
// instances of, through `import`.
import process from 'node:process'
import { lastValueFrom } from 'rxjs'
import { ComfyError, ComfyPod, ComfyStoreError, ComfyValidationError } from 'comfyui-rx'
import { ProgressStreamError } from 'comfyui-rx/browser'
import { startComfySimulator } from 'comfyui-rx/simulator'
import { RedisProgressStore } from 'comfyui-rx/store'

const entryPoints = ['', '/analytics', '/browser', '/cli', '/queue', '/simulator', '/store'].map(
  (path) => `comfyui-rx${path}`,
)
const exported = {}
for (const name of entryPoints) exported[name] = Object.keys(await import(name)).sort()

const classes = { ComfyError, ComfyStoreError, ComfyValidationError }
const described = (error) => ({
  name: error?.name,
  instanceOf: Object.keys(classes).filter((name) => error instanceof classes[name]),
})
const failure = (promise) =>
  promise.then(
    () => undefined,
    (error) => error,
  )

// A closed store fails its reads; lazyConnect: no Redis server is needed.
const store = new RedisProgressStore('redis://127.0.0.1:6379', {
  redisOptions: { lazyConnect: true },
})
await store.close()
const storeError = await failure(store.latest('p1'))

const streamError = new ProgressStreamError('http://127.0.0.1/progress/p1')

// A pod of the main entry point, served by the simulator, rejects an unknown node class.
const sim = await startComfySimulator({ version: '0.33' })
const pod = new ComfyPod(sim.url)
const workflow = { 1: { class_type: 'NoSuchNode', inputs: {} } }
const validationError = await failure(lastValueFrom(pod.executeWorkflow$(workflow)))
pod.close()
await sim.close()

process.stdout.write(
  JSON.stringify({
    exported,
    storeError: described(storeError),
    streamError: described(streamError),
    validationError: described(validationError),
  }),
)
