import type { Observable, ObservableInput } from 'rxjs'
import type { ExecuteWorkflowOptions } from './ExecuteWorkflowOptions.js'
import { followPrompt } from './followPrompt.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { initialJobState } from './initialJobState.js'
import { resolveExecution } from './resolveExecution.js'
import type { Workflow } from './Workflow.js'

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
  const { settings, extraData, front, promptId } = resolveExecution(workflow, options)
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
      submit: () => queuePrompt({ workflow, promptId: ownId, extraData, front }),
    }
  })
}
