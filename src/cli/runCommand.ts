import { parseArgs } from 'node:util'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import type { CliContext } from './CliContext.js'
import { CliError, ExitCode } from './CliError.js'
import { prepareOutDir } from './downloadImages.js'
import { followJob } from './followJob.js'
import { openPod } from './openPod.js'
import { progressInterval } from './progressInterval.js'
import { readWorkflowFile } from './readWorkflowFile.js'
import { reportError } from './reportError.js'
import { FOLLOW_OPTIONS, parseCommandArgs, RUN_USAGE, usageError } from './usage.js'

/** `comfyui-rx run <workflow.json>`: queue a workflow, follow it, print or download its images. */
export async function runCommand(args: readonly string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('run', () =>
    parseArgs({ args: [...args], options: FOLLOW_OPTIONS, allowPositionals: true, strict: true }),
  )
  if (values.help) {
    context.stdout.write(RUN_USAGE)
    return ExitCode.ok
  }
  const [file, ...extra] = positionals
  if (file === undefined) throw usageError('run', 'run needs a workflow file')
  if (extra.length > 0) throw usageError('run', `unexpected argument ${JSON.stringify(extra[0])}`)
  const { json, out } = values
  const { signal } = context
  try {
    const workflow = await readWorkflowFile(file)
    const throttle = progressInterval('run', values['progress-interval'], context, json)
    if (out !== undefined) await prepareOutDir(out)
    const { pod, headers } = await openPod(context, {
      url: values.url,
      clientId: values['client-id'],
      header: values.header,
    })
    try {
      if (!json) context.stdout.write(`pod: ${pod.url} (client id ${pod.clientId})\n`)
      if (signal?.aborted)
        throw new CliError('cancelled before the prompt was queued', ExitCode.cancelled)
      const job$ = pod.executeWorkflow$(workflow, {
        progressThrottleMs: throttle,
        ...(signal === undefined ? {} : { signal }),
      })
      await followJob(job$, context, { json, out, workflow, headers })
      return ExitCode.ok
    } catch (error) {
      if (error instanceof ComfyInterruptedError && signal?.aborted === true) {
        // The job fires its cancel and ends at once; awaiting a second one means the pod has been
        // told (deleted if pending, interrupt sent if running) before the process exits.
        await pod.cancel(error.promptId).catch(() => undefined)
        throw new CliError(
          `cancelled: prompt ${error.promptId} was dropped from the pod's queue or interrupted`,
          ExitCode.cancelled,
          { cause: error },
        )
      }
      throw error
    } finally {
      pod.close()
    }
  } catch (error) {
    return reportError(error, context, json)
  }
}
