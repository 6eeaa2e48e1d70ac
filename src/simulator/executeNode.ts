import { Aborted } from './Aborted.js'
import { describeNodeError } from './describeNodeError.js'
import type { NodeErrorReport } from './describeNodeError.js'
import type { ExecutionEnv } from './ExecutionEnv.js'
import type { PromptCache } from './PromptCache.js'
import type { QueueItem } from './PromptQueue.js'
import type { PromptReporter } from './PromptReporter.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'
import type {
  SimulatedNodeContext,
  SimulatedNodeResult,
  SimulatedNodeType,
} from './SimulatedNodeType.js'

/** comfy.model_management.InterruptProcessingException */
class InterruptProcessing extends Error {}

/** The prompt a node is executed for. */
export interface PromptRun {
  readonly env: ExecutionEnv
  readonly item: QueueItem
  readonly reporter: PromptReporter
  readonly cache: PromptCache
  /** The nodes executed so far, not counting those taken from the cache. */
  readonly executed: Set<string>
  nodeType(id: string): SimulatedNodeType
}

/** How executing one node went. */
export type NodeResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'interrupted'; readonly nodeId: string }
  | ({ readonly kind: 'error'; readonly nodeId: string } & NodeErrorReport)

/**
 * execution.execute for one node: a cached output node re-sends its UI; any other node reports
 * its start, its progress steps (raising an injected failure at its step), its UI and its end.
 * Throws `Aborted` when the simulator stops or restarts meanwhile.
 */
export async function executeNode(run: PromptRun, nodeId: string): Promise<NodeResult> {
  const { env, item, reporter, cache } = run
  const classType = String(item.prompt[nodeId]?.class_type)
  const type = run.nodeType(nodeId)
  if (cache.isCached(nodeId)) {
    // Only cached output nodes get here.
    reporter.executed(nodeId, cache.reuseUi(nodeId))
    reporter.nodeFinished(nodeId)
    return { kind: 'ok' }
  }

  reporter.nodeStarted(nodeId)
  const inputs = cache.inputsOf(nodeId)
  const context: SimulatedNodeContext = {
    nodeId,
    promptId: item.promptId,
    classType,
    inputs,
    progress: (value, max, preview) => {
      // The hook checks for an interrupt before it sends anything.
      if (env.interrupt.requested) throw new InterruptProcessing()
      reporter.progress(nodeId, value, max, preview)
    },
    progressText: (text) => reporter.progressText(nodeId, text),
    sleep: (ms) => env.sleep(ms),
    saveImages: (images, options) =>
      env.files.saveImages(images, options.type, options.filenamePrefix),
  }

  let result: SimulatedNodeResult | undefined
  try {
    // before_node_execution
    if (env.interrupt.requested) throw new InterruptProcessing()
    const failure = env.takeFailure(nodeId, classType)
    const steps = Math.max(
      0,
      Math.floor(typeof type.steps === 'function' ? type.steps(inputs) : (type.steps ?? 0)),
    )
    const failAt = failure?.afterSteps ?? steps
    if (type.loadMs !== undefined && type.loadMs > 0) await env.sleep(type.loadMs)
    if (steps === 0) await env.sleep(type.durationMs ?? env.nodeDurationMs)
    for (let step = 1; step <= steps; step++) {
      if (failure !== undefined && step > failAt) break
      await env.sleep(type.stepDurationMs ?? env.stepDurationMs)
      context.progress(step, steps, type.previews === true)
    }
    if (failure !== undefined) {
      throw new SimulatedNodeError(failure.message, { exceptionType: failure.exceptionType })
    }
    result = (await type.execute?.(context)) ?? undefined
    // A custom node may await something other than sleep(); its prompt must still vanish.
    if (env.aborted()) throw new Aborted()
  } catch (error) {
    if (error instanceof Aborted) throw error
    if (error instanceof InterruptProcessing) return { kind: 'interrupted', nodeId }
    return { kind: 'error', nodeId, ...describeNodeError(error, type, nodeId, inputs, item) }
  }

  const ui = result?.ui
  if (ui !== undefined && Object.keys(ui).length > 0) {
    cache.storeUi(nodeId, ui)
    reporter.executed(nodeId, ui)
  }
  cache.storeOutputs(nodeId, result?.outputs ?? [])
  reporter.nodeFinished(nodeId)
  run.executed.add(nodeId)
  return { kind: 'ok' }
}
