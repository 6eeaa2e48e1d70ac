import type { ExecutionEnv } from './ExecutionEnv.js'
import { ExecutionList } from './ExecutionList.js'
import { executeNode } from './executeNode.js'
import type { PromptRun } from './executeNode.js'
import { PromptCache } from './PromptCache.js'
import type { HistoryEntry, QueueItem } from './PromptQueue.js'
import { PromptReporter } from './PromptReporter.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

// execution.PromptExecutor.execute_async: the messages of one prompt, in ComfyUI's order, from
// execution_start to its closing message, and the history entry it leaves.

/** How a prompt ended, and what goes into its history entry. */
export interface PromptOutcome {
  readonly outcome: 'success' | 'error' | 'interrupted'
  readonly entry: Omit<HistoryEntry, 'prompt'>
}

/** Runs one prompt the way ComfyUI's worker does, sending every message on the way. */
export async function executePrompt(env: ExecutionEnv, item: QueueItem): Promise<PromptOutcome> {
  const { prompt, promptId } = item
  env.interrupt.requested = false
  const reporter = new PromptReporter(env, item)
  reporter.log('execution_start', { prompt_id: promptId }, false)

  const nodeType = (id: string) =>
    env.nodeTypes.get(String(prompt[id]?.class_type)) ?? ({} as SimulatedNodeType)
  const cache = new PromptCache(env, prompt, nodeType)
  const isCached = (id: string) => cache.isCached(id)
  reporter.log(
    'execution_cached',
    { nodes: Object.keys(prompt).filter(isCached), prompt_id: promptId },
    false,
  )
  const currentOutputs = Object.keys(prompt)
  const run: PromptRun = { env, item, reporter, cache, executed: new Set(), nodeType }
  const { executed } = run

  const list = new ExecutionList(prompt, isCached, (id) => nodeType(id).outputNode === true)
  for (const output of item.outputsToExecute) list.addNode(output)
  // Like ComfyUI, `success` is only cleared by a failed node: the dependency-cycle error leaves it
  // true (§5.6).
  let success = true
  let interrupted = false
  let finished = true
  while (!list.isEmpty) {
    const nodeId = list.next()
    if (nodeId === undefined) {
      const cycle = list.remaining()
      const first = cycle[0] ?? ''
      reporter.log(
        'execution_error',
        {
          prompt_id: promptId,
          node_id: first,
          node_type: String(prompt[first]?.class_type),
          executed: [...executed],
          exception_message: `Dependency cycle detected\n`,
          exception_type: 'graph.DependencyCycleError',
          traceback: [],
          current_inputs: [],
          current_outputs: currentOutputs,
        },
        false,
      )
      finished = false
      break
    }
    const result = await executeNode(run, nodeId)
    if (result.kind === 'interrupted') {
      reporter.log(
        'execution_interrupted',
        {
          prompt_id: promptId,
          node_id: result.nodeId,
          node_type: String(prompt[result.nodeId]?.class_type),
          executed: [...executed],
        },
        true,
      )
      success = false
      interrupted = true
      finished = false
      break
    }
    if (result.kind === 'error') {
      reporter.log(
        'execution_error',
        {
          prompt_id: promptId,
          node_id: result.nodeId,
          node_type: String(prompt[result.nodeId]?.class_type),
          executed: [...executed],
          exception_message: `${result.message}\n`,
          exception_type: result.type,
          traceback: [...result.traceback],
          current_inputs: result.inputs,
          current_outputs: currentOutputs,
        },
        false,
      )
      success = false
      finished = false
      break
    }
    list.complete(nodeId)
  }
  if (finished && env.version === '0.33') {
    // Cached intermediate outputs (v0.19.0) re-send their UI after every other node.
    for (const id of Object.keys(prompt)) {
      if (!executed.has(id) && nodeType(id).hasIntermediateOutput === true && isCached(id)) {
        reporter.executed(id, cache.reuseUi(id))
      }
    }
  }
  if (finished) reporter.log('execution_success', { prompt_id: promptId }, false)

  env.current.lastNodeId = null
  const { outputs, meta } = cache.history()
  const { messages } = reporter
  return {
    outcome: interrupted ? 'interrupted' : finished ? 'success' : 'error',
    entry: {
      outputs,
      status: { status_str: success ? 'success' : 'error', completed: success, messages },
      meta,
    },
  }
}
