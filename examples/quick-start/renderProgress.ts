import type { JobEvent } from 'comfyui-rx'

const WIDTH = 30

/**
 * One line of the terminal progress bar for a job event: `[#####-----] 45.0% node 3 ETA 2.1s`.
 * On a TTY the line is redrawn in place; elsewhere each update is its own line.
 */
export function renderProgress(event: JobEvent, tty: boolean): string | undefined {
  switch (event.type) {
    case 'queued':
      return line(`queued at position ${event.position} (prompt ${event.promptId})`, tty)
    case 'started':
      return line('started', tty)
    case 'progress': {
      const filled = Math.round((event.progress / 100) * WIDTH)
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`
      const node = event.currentNode === undefined ? '' : ` node ${event.currentNode}`
      const eta =
        event.estimatedTimeRemaining === undefined
          ? ''
          : ` ETA ${event.estimatedTimeRemaining.toFixed(1)}s`
      const text = `${bar} ${event.progress.toFixed(1).padStart(5)}%${node}${eta}`
      return tty ? `\r${text.padEnd(72)}` : `${text}\n`
    }
    case 'completed':
      return `${tty ? '\n' : ''}completed in ${event.result.durationMs} ms\n${event.result.images
        .map((image) => `  ${image.url}`)
        .join('\n')}\n`
    default:
      return undefined
  }
}

function line(text: string, tty: boolean): string {
  return tty ? `\r${text.padEnd(72)}\n` : `${text}\n`
}
