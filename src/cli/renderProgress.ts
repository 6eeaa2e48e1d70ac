import type { JobEvent, JobProgress } from '../job/JobEvent.js'
import type { Workflow } from '../job/Workflow.js'
import { invalid, nonNegativeInteger } from '../internal/optionChecks.js'

/** Options of {@link renderProgress}. */
export interface RenderProgressOptions {
  /**
   * Whether the text goes to a terminal: the bar is then redrawn in place (carriage return, erase
   * line); otherwise every update is a line of its own, for logs and pipes.
   * @default false
   */
  readonly tty?: boolean
  /**
   * Width of the terminal. A redrawn line is cut to fit, because a line that wraps can no longer
   * be redrawn in place. 0 means 80 too: Node reports 0 columns for a terminal that does not tell
   * its size (a pseudo-terminal of size 0, as under `script`).
   * @default 80
   */
  readonly columns?: number
  /**
   * Width of the bar, in characters.
   * @default 30
   */
  readonly barWidth?: number
  /**
   * The workflow being run, to name the current node by its title (`node 3 KSampler`) rather
   * than by its id alone.
   * @default undefined
   */
  readonly workflow?: Workflow
}

const ERASE_LINE = '\r\x1b[2K'
const DEFAULT_COLUMNS = 80

/**
 * The text of one job event for a terminal progress bar: percent, current node (with its steps)
 * and ETA. Pure: write what it returns, in event order, and the bar stays right. On a TTY the bar
 * is redrawn in place and the other events get lines of their own; elsewhere every event that
 * says something is one line.
 *
 * @example
 * ```ts
 * import { ComfyPod } from 'comfyui-rx'
 * import { renderProgress } from 'comfyui-rx/cli'
 *
 * const tty = process.stdout.isTTY === true
 * pod.executeWorkflow$(workflow, { progressThrottleMs: 100 }).subscribe((event) => {
 *   process.stdout.write(renderProgress(event, { tty, workflow }))
 * })
 * // queued: prompt 6f1c…, position 0
 * // started
 * // [#########---------------------]  30.0% node 3 KSampler 6/20 ETA 1.4s
 * // [##############################] 100.0%
 * // completed in 2.3s: 1 image
 * ```
 * @param event - any event of `executeWorkflow$` or `track$`
 * @param options - see `RenderProgressOptions`
 * @returns the text to write as is (`''` for events not shown: previews, node outputs)
 * @throws TypeError for an invalid option
 */
export function renderProgress(event: JobEvent, options: RenderProgressOptions = {}): string {
  const { tty = false, columns: reported = DEFAULT_COLUMNS, barWidth = 30, workflow } = options
  if (typeof tty !== 'boolean') invalid('tty', tty, 'a boolean')
  nonNegativeInteger('columns', reported)
  if (!Number.isInteger(barWidth) || barWidth < 1) invalid('barWidth', barWidth, 'an integer >= 1')
  const columns = reported === 0 ? DEFAULT_COLUMNS : reported
  // Redrawn lines stop one column short: writing the last column makes some terminals wrap.
  const fit = (text: string): string => (text.length < columns ? text : text.slice(0, columns - 1))
  const line = (text: string): string => (tty ? `${ERASE_LINE}${fit(text)}\n` : `${text}\n`)

  switch (event.type) {
    case 'queued':
      return line(`queued: prompt ${event.promptId}, position ${event.position}`)
    case 'started':
      return line('started')
    case 'progress': {
      const text = progressLine(event, barWidth, tty, workflow, columns)
      return tty ? `${ERASE_LINE}${fit(text)}` : `${text}\n`
    }
    case 'completed': {
      const { images, durationMs } = event.result
      const count =
        images.length === 0
          ? 'no images'
          : `${images.length} image${images.length === 1 ? '' : 's'}`
      const summary = `completed in ${formatDuration(durationMs / 1000)}: ${count}\n`
      // Redrawing the full bar is right whether or not the bar was on the line.
      return tty ? `${ERASE_LINE}${fit(bar(100, barWidth, tty))}\n${summary}` : summary
    }
    default:
      return ''
  }
}

function progressLine(
  event: JobProgress,
  barWidth: number,
  tty: boolean,
  workflow: Workflow | undefined,
  columns: number,
): string {
  const details: string[] = []
  const { currentNode } = event
  if (currentNode !== undefined && event.progress < 100) {
    const title = nodeTitle(workflow, currentNode)
    const steps = event.nodes[currentNode]
    details.push(
      `node ${currentNode}${title === undefined ? '' : ` ${title}`}${
        steps !== undefined && steps.max > 1 ? ` ${steps.value}/${steps.max}` : ''
      }`,
    )
  }
  if (event.estimatedTimeRemaining !== undefined && event.progress < 100) {
    details.push(`ETA ${formatDuration(event.estimatedTimeRemaining)}`)
  }
  const tail = details.map((detail) => ` ${detail}`).join('')
  // On a narrow terminal the bar gives way first: the node and ETA say more than its length.
  const room = columns - 1 - tail.length - '[] 100.0%'.length
  const width = tty ? Math.max(Math.min(barWidth, room), Math.min(barWidth, 10)) : barWidth
  return `${bar(event.progress, width, tty)}${tail}`
}

function bar(progress: number, width: number, tty: boolean): string {
  const filled = Math.round((Math.min(Math.max(progress, 0), 100) / 100) * width)
  // Block characters on a terminal; plain ASCII in logs, which may not be read as UTF-8.
  const [full, empty] = tty ? ['█', '░'] : ['#', '-']
  return `[${full.repeat(filled)}${empty.repeat(width - filled)}] ${progress.toFixed(1).padStart(5)}%`
}

function nodeTitle(workflow: Workflow | undefined, nodeId: string): string | undefined {
  const node = workflow?.[nodeId]
  if (node === undefined) return undefined
  const meta = node._meta
  const title =
    typeof meta === 'object' && meta !== null ? (meta as { title?: unknown }).title : undefined
  return typeof title === 'string' && title !== '' ? title : node.class_type
}

/** `2.1s`, `1m05s`, `2h03m`. */
function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(seconds, 0).toFixed(1)}s`
  const whole = Math.round(seconds)
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`
}
