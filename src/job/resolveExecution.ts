import { invalid } from '../internal/optionChecks.js'
import { assertPromptId } from './assertPromptId.js'
import { PREVIEW_METHODS, type ExecuteWorkflowOptions } from './ExecuteWorkflowOptions.js'
import { type JobSettings, resolveJobSettings } from './JobSettings.js'
import { isWorkflow, type Workflow } from './Workflow.js'

/** @internal A workflow's run, checked, with every default applied. */
export interface ResolvedExecution {
  readonly settings: JobSettings
  /** `extra_data`, with the preview method in it. */
  readonly extraData: Readonly<Record<string, unknown>>
  readonly front: boolean
  readonly promptId: string | undefined
}

/**
 * @internal Checks a workflow and the options of its run, as `executeWorkflow$` takes them (a job
 * queue checks them when the job is added, long before a pod runs it).
 *
 * @throws TypeError for a workflow not in API format or an invalid option
 */
export function resolveExecution(
  workflow: unknown,
  options: ExecuteWorkflowOptions,
): ResolvedExecution {
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
  return {
    settings,
    extraData:
      previewMethod === undefined ? extraData : { ...extraData, preview_method: previewMethod },
    front,
    promptId,
  }
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
  if (!isWorkflow(workflow) || Object.keys(workflow).length === 0) {
    throw new TypeError(
      'workflow must be an API-format workflow: {nodeId: {class_type, inputs}}, with at least one node',
    )
  }
}
