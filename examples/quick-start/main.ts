/**
 * `npm start`: runs a txt2img workflow with a live terminal progress bar, against the pod at
 * COMFYUI_URL or, without it, against an embedded ComfyUI simulator.
 */
import { readFileSync } from 'node:fs'
import { lastValueFrom, tap } from 'rxjs'
import { ComfyError, ComfyPod, type Workflow } from 'comfyui-rx'
import { startComfySimulator } from 'comfyui-rx/simulator'
// The CLI's progress bar (`comfyui-rx run` draws the same one).
import { renderProgress } from 'comfyui-rx/cli'

const workflow = JSON.parse(
  readFileSync(new URL('../workflows/txt2img.json', import.meta.url), 'utf8'),
) as Workflow

const simulator =
  process.env['COMFYUI_URL'] === undefined
    ? await startComfySimulator({ stepDurationMs: 100 })
    : undefined
const url = process.env['COMFYUI_URL'] ?? simulator!.url
console.log(
  `pod: ${url}${simulator === undefined ? '' : ' (embedded simulator; set COMFYUI_URL for a real pod)'}`,
)

const pod = new ComfyPod(url)
// columns is undefined when stdout is not a terminal, 0 when the terminal does not tell its size:
// renderProgress draws for 80 columns then.
const bar = { tty: process.stdout.isTTY === true, columns: process.stdout.columns, workflow }
try {
  const completed = await lastValueFrom(
    pod
      .executeWorkflow$(workflow, { progressThrottleMs: 100 })
      .pipe(tap((event) => process.stdout.write(renderProgress(event, bar)))),
  )
  if (completed.type === 'completed') {
    for (const image of completed.result.images) console.log(`  ${image.url}`)
  }
} catch (error) {
  console.error(
    `\n${error instanceof ComfyError ? `${error.name}: ` : ''}${String(error instanceof Error ? error.message : error)}`,
  )
  process.exitCode = 1
} finally {
  pod.close()
  await simulator?.close()
}
