import { isLeft } from 'fp-ts/lib/Either.js'
import type { Observable, ObservableInput } from 'rxjs'
import { assertPromptId } from './assertPromptId.js'
import { PREVIEW_METHODS, type ExecuteWorkflowOptions } from './ExecuteWorkflowOptions.js'
import { followPrompt } from './followPrompt.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { initialJobState } from './initialJobState.js'
import { resolveJobSettings } from './JobSettings.js'
import { Workflow } from './Workflow.js'
import { invalid } from '../internal/optionChecks.js'

/** `POST /prompt` as a job needs it; resolves with the id the pod uses. */
export type QueuePrompt = (request: {
  readonly workflow: Workflow
  readonly promptId: string
  readonly extraData: Readonly<Record<string, unknown>>
  readonly front: boolean
}) => ObservableInput<{ readonly promptId: string }>

/**
 * Queues a workflow and follows it to its end: listen first, then `POST /prompt` once the socket
 * is open (or given up, then over REST alone), then one reducer over socket messages and REST
 * snapshots, exactly one terminal notification. Cold; unsubscribing removes every route and timer.
 *
 * @throws TypeError for a workflow not in API format or an invalid option
 */
export function executeWorkflow(
  context: JobContext,
  queuePrompt: QueuePrompt,
  workflow: Workflow,
  options: ExecuteWorkflowOptions = {},
): Observable<JobEvent> {
  const { extraData = {}, front = false, promptId, previewMethod } = options
  assertWorkflow(workflow)
  const settings = resolveJobSettings(options)
  if (promptId !== undefined) assertPromptId('promptId', promptId)
  if (typeof extraData !== 'object' || extraData === null) {
    invalid('extraData', extraData, 'an object')
  }
  if (previewMethod !== undefined && !PREVIEW_METHODS.includes(previewMethod)) {
    invalid('previewMethod', previewMethod, `one of ${PREVIEW_METHODS.join(', ')}`)
  }
  const extra =
    previewMethod === undefined ? extraData : { ...extraData, preview_method: previewMethod }
  return followPrompt(context, settings, () => {
    const ownId = promptId ?? context.newPromptId()
    return {
      ownId,
      initial: initialJobState(
        ownId,
        workflow,
        context.scheduler.now(),
        context.viewUrl,
        context.costModel,
      ),
      submit: () => queuePrompt({ workflow, promptId: ownId, extraData: extra, front }),
    }
  })
}

function assertWorkflow(workflow: unknown): asserts workflow is Workflow {
  if (
    typeof workflow === 'object' &&
    workflow !== null &&
    Array.isArray((workflow as { nodes?: unknown }).nodes)
  ) {
    throw new TypeError(
      'workflow is in the UI save format (it has a `nodes` array); export it with "Export (API)" (Save (API Format)) and pass that',
    )
  }
  const decoded = Workflow.decode(workflow)
  if (isLeft(decoded) || Object.keys(workflow as object).length === 0) {
    throw new TypeError(
      'workflow must be an API-format workflow: {nodeId: {class_type, inputs}}, with at least one node',
    )
  }
}
