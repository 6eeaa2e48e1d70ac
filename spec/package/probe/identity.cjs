// Run by tarball.spec.ts with `node`, in a project where the packed comfyui-rx is installed: what
// each entry point exports, and which classes of 'comfyui-rx' the errors of the others are
// instances of, through `require`.
/* eslint-disable @typescript-eslint/no-require-imports -- the require entry points are the subject */
const process = require('node:process')
const { lastValueFrom } = require('rxjs')
const { ComfyError, ComfyPod, ComfyStoreError, ComfyValidationError } = require('comfyui-rx')
const { ProgressStreamError } = require('comfyui-rx/browser')
const { startComfySimulator } = require('comfyui-rx/simulator')
const { RedisProgressStore } = require('comfyui-rx/store')

const entryPoints = ['', '/analytics', '/browser', '/cli', '/queue', '/simulator', '/store'].map(
  (path) => `comfyui-rx${path}`,
)
const exported = {}
for (const name of entryPoints) exported[name] = Object.keys(require(name)).sort()

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

async function main() {
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
}

main()
