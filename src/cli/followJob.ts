import { filter, lastValueFrom, NEVER, type Observable, takeUntil, tap } from 'rxjs'
import type { JobCompleted, JobEvent } from '../job/JobEvent.js'
import type { Workflow } from '../job/Workflow.js'
import type { CliContext } from './CliContext.js'
import { downloadImages } from './downloadImages.js'
import { renderProgress } from './renderProgress.js'

/** How `run` and `watch` show a job. */
export interface FollowJobOptions {
  /** NDJSON on stdout instead of the progress bar. */
  readonly json: boolean
  /** Download the images into this directory instead of printing their URLs. */
  readonly out: string | undefined
  /** The workflow, to name nodes in the bar; unknown to `watch`. */
  readonly workflow: Workflow | undefined
  /** Sent with the downloads (the pod's credentials). */
  readonly headers: Readonly<Record<string, string>>
  /** Stops following (the job is unsubscribed, not cancelled). */
  readonly stop$?: Observable<unknown>
}

/**
 * Writes a job's events as it runs — the progress bar, or one NDJSON line each — then its images:
 * their URLs, or the files they were downloaded to. With `--json` the `completed` line comes
 * last, after the `downloaded` ones.
 *
 * @returns the completion, or undefined when `stop$` fired first
 * @throws the job's error, once the bar's line is ended so the message starts on a line of its own
 */
export async function followJob(
  job$: Observable<JobEvent>,
  context: CliContext,
  options: FollowJobOptions,
): Promise<JobCompleted | undefined> {
  const { json, out, workflow, headers, stop$ = NEVER } = options
  const { stdout } = context
  const tty = !json && stdout.isTTY === true
  const columns = stdout.columns !== undefined && stdout.columns > 0 ? stdout.columns : 80
  let lineOpen = false
  const write = (text: string): void => {
    if (text === '') return
    stdout.write(text)
    lineOpen = !text.endsWith('\n')
  }
  try {
    const completed = await lastValueFrom(
      job$.pipe(
        tap((event) => {
          if (json) {
            if (event.type !== 'completed') write(jsonLine(event))
          } else {
            write(renderProgress(event, { tty, columns, ...(workflow ? { workflow } : {}) }))
          }
        }),
        filter((event): event is JobCompleted => event.type === 'completed'),
        takeUntil(stop$),
      ),
      { defaultValue: undefined },
    )
    if (completed === undefined) return undefined
    const { promptId, result } = completed
    if (out !== undefined) {
      const files = await downloadImages(result.images, out, { fetch: context.fetch, headers })
      for (const { url, path } of files) {
        write(json ? jsonLine({ type: 'downloaded', promptId, url, path }) : `${path}\n`)
      }
    } else if (!json) {
      for (const image of result.images) write(`${image.url}\n`)
    }
    if (json) write(jsonLine(completed))
    return completed
  } finally {
    if (lineOpen) write('\n')
  }
}

/** The NDJSON line of a downloaded image. */
interface DownloadedLine {
  readonly type: 'downloaded'
  readonly promptId: string
  readonly url: string
  readonly path: string
}

/** One NDJSON line; a preview's image bytes are replaced by their count. */
function jsonLine(event: JobEvent | DownloadedLine): string {
  if (event.type === 'preview' && 'image' in event) {
    const { image, ...rest } = event
    return `${JSON.stringify({ ...rest, bytes: image.byteLength })}\n`
  }
  return `${JSON.stringify(event)}\n`
}
