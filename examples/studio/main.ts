/**
 * `npm run example:studio`: the studio page on http://127.0.0.1:3000 (PORT), running workflows on
 * the pod at COMFYUI_URL or, without it, on an embedded ComfyUI simulator.
 *
 * With REDIS_URL, it runs as two instances sharing the Redis (on PORT and PORT + 1, one pod): a
 * job generated on one can be followed on the other (open `/?prompt=<promptId>` there), and an
 * instance restarted mid-job resumes its jobs (each instance is named after its port, or
 * INSTANCE_ID). STUDIO_INSTANCES=1 runs one instance only, to run each in a process of its own:
 * give them the same COMFYUI_URL and REDIS_URL, and their own PORT.
 */
import { startStudio, type Studio } from './startStudio.js'

const port = Number(process.env['PORT'] ?? 3000)
const redisUrl = process.env['REDIS_URL'] || undefined
const comfyuiUrl = process.env['COMFYUI_URL'] || undefined
const count = Number(process.env['STUDIO_INSTANCES'] ?? (redisUrl === undefined ? 1 : 2))

const studios: Studio[] = []
const stop = () =>
  void Promise.all(studios.map((studio) => studio.close())).then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

for (let index = 0; index < count; index++) {
  // The first instance may embed the simulator; the others use the same pod.
  const podUrl = comfyuiUrl ?? studios[0]?.podUrl
  const instancePort = port === 0 ? 0 : port + index
  // Unique among the instances, the same after a restart.
  const instanceId =
    count === 1 && process.env['INSTANCE_ID']
      ? process.env['INSTANCE_ID']
      : `studio-${instancePort === 0 ? index + 1 : instancePort}`
  const studio = await startStudio({
    ...(podUrl === undefined ? {} : { comfyuiUrl: podUrl }),
    ...(redisUrl === undefined ? {} : { redisUrl }),
    port: instancePort,
    instanceId,
  })
  studios.push(studio)
  const notes = [
    studio.simulator === undefined ? '' : ' (embedded simulator; set COMFYUI_URL for a real pod)',
    redisUrl === undefined ? '' : ` (progress in Redis, instance ${instanceId})`,
  ]
  console.log(`studio: ${studio.url}${notes.join('')}`)
}
