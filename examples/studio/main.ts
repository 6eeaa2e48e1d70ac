/**
 * `npm run example:studio`: the studio page on http://127.0.0.1:3000 (PORT), running workflows on
 * the pod at COMFYUI_URL or, without it, on an embedded ComfyUI simulator.
 *
 * With REDIS_URL, jobs go through a BullMQ queue in that Redis, run by two worker processes
 * (examples/studio/worker.ts) that it starts and names `worker-1` and `worker-2`. Kill the one that
 * runs a job (`kill -9 <pid>`, printed below) while the page shows its progress: the other takes
 * the job over on its pod, and the bar goes on to the end. STUDIO_WORKERS sets how many (0: run
 * them yourself, e.g. on other machines, with the same REDIS_URL and COMFYUI_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startStudio } from './startStudio.js'

const port = Number(process.env['PORT'] ?? 3000)
const redisUrl = process.env['REDIS_URL'] || undefined
const comfyuiUrl = process.env['COMFYUI_URL'] || undefined
const workerCount = Number(process.env['STUDIO_WORKERS'] ?? 2)

const studio = await startStudio({
  ...(comfyuiUrl === undefined ? {} : { comfyuiUrl }),
  ...(redisUrl === undefined ? {} : { redisUrl, worker: false }),
  port,
})
const workers: ChildProcess[] = []
const stop = () => {
  for (const worker of workers) worker.kill('SIGTERM')
  void studio.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

const note =
  studio.simulator === undefined ? '' : ' (embedded simulator; set COMFYUI_URL for a real pod)'
console.log(`studio: ${studio.url}${note}`)
if (redisUrl !== undefined) {
  for (let index = 1; index <= workerCount; index++) workers.push(startWorker(`worker-${index}`))
}

/** A worker process, with its output on ours; its stdin is its lifeline. */
function startWorker(name: string): ChildProcess {
  const script = fileURLToPath(new URL('./worker.ts', import.meta.url))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, redisUrl!, studio.podUrl, name],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    if (text.includes('ready'))
      console.log(`${name}: pid ${child.pid} takes jobs (kill -9 ${child.pid})`)
  })
  child.once('exit', (code, signal) => console.log(`${name}: exited (${signal ?? code})`))
  return child
}
