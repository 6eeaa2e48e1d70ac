import { parseArgs } from 'node:util'
import { fromEvent, NEVER, of } from 'rxjs'
import type { CliContext } from './CliContext.js'
import { CliError, ExitCode } from './CliError.js'
import { prepareOutDir } from './downloadImages.js'
import { followJob } from './followJob.js'
import { openPod } from './openPod.js'
import { progressInterval } from './progressInterval.js'
import { reportError } from './reportError.js'
import { FOLLOW_OPTIONS, parseCommandArgs, usageError, WATCH_USAGE } from './usage.js'

/** `comfyui-rx watch <promptId>`: follow a prompt queued earlier (`track$`). */
export async function watchCommand(args: readonly string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('watch', () =>
    parseArgs({ args: [...args], options: FOLLOW_OPTIONS, allowPositionals: true, strict: true }),
  )
  if (values.help) {
    context.stdout.write(WATCH_USAGE)
    return ExitCode.ok
  }
  const [promptId, ...extra] = positionals
  if (promptId === undefined || promptId === '') {
    throw usageError('watch', 'watch needs a prompt id')
  }
  if (extra.length > 0) throw usageError('watch', `unexpected argument ${JSON.stringify(extra[0])}`)
  const { json, out } = values
  const clientId = values['client-id']
  try {
    const throttle = progressInterval('watch', values['progress-interval'], context, json)
    if (out !== undefined) await prepareOutDir(out)
    const { pod, headers } = await openPod(context, {
      url: values.url,
      clientId,
      header: values.header,
    })
    try {
      if (!json) {
        context.stdout.write(
          clientId === undefined
            ? `pod: ${pod.url} (no --client-id: following the prompt over REST, without step progress)\n`
            : `pod: ${pod.url} (client id ${clientId})\n`,
        )
      }
      const { signal } = context
      // Stopping a watch leaves the prompt alone: it may well be someone else's.
      const stop$ =
        signal === undefined ? NEVER : signal.aborted ? of(true) : fromEvent(signal, 'abort')
      // Under a client id of its own, the socket would carry nothing about the prompt (ComfyUI
      // sends a prompt's messages to the client that queued it): REST alone, then.
      const completed = await followJob(
        pod.track$(promptId, { progressThrottleMs: throttle, socket: clientId !== undefined }),
        context,
        { json, out, workflow: undefined, headers, stop$ },
      )
      if (completed === undefined) {
        throw new CliError(
          `stopped watching prompt ${promptId}; it goes on on the pod`,
          ExitCode.cancelled,
        )
      }
      return ExitCode.ok
    } finally {
      pod.close()
    }
  } catch (error) {
    return reportError(error, context, json)
  }
}
