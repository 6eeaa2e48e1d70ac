import { executorFrames } from './builtinNodeTypes.js'
import { encodePng } from './encodePng.js'
import { ExecutionList, isLink } from './ExecutionList.js'
import type { FileStore } from './FileStore.js'
import { nodeSignatures } from './nodeSignature.js'
import type { HistoryEntry, QueueItem } from './PromptQueue.js'
import { PyException, pyFrame, pyRepr } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'
import type {
  SimulatedNodeContext,
  SimulatedNodeResult,
  SimulatedNodeType,
} from './SimulatedNodeType.js'
import type { SocketHub } from './SocketHub.js'
import { inputTypesOf } from './validatePrompt.js'

// execution.PromptExecutor.execute_async and execute(), with main.py's progress hook and
// comfy_execution/progress.py's WebUI handler: the messages of one prompt, in ComfyUI's order.

/** Thrown by the simulator's sleeps when it stops or restarts: the prompt just vanishes. */
export class Aborted extends Error {}

/** comfy.model_management.InterruptProcessingException */
class InterruptProcessing extends Error {}

/** A node failure injected by the `failNode` fault control. */
export interface InjectedFailure {
  readonly message: string
  readonly exceptionType: string
  readonly afterSteps: number | undefined
}

/** Outputs and UI dicts kept between prompts, by cache signature (ComfyUI's classic cache). */
export interface ExecutionCache {
  readonly outputs: Map<string, readonly unknown[]>
  readonly ui: Map<string, { readonly output: unknown; readonly meta: unknown }>
}

/** Everything executing a prompt touches. */
export interface ExecutionEnv {
  readonly version: SimulatedComfyVersion
  readonly hub: SocketHub
  readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  readonly files: FileStore
  readonly cache: ExecutionCache
  readonly cacheEnabled: boolean
  readonly nodeDurationMs: number
  readonly stepDurationMs: number
  readonly previews: boolean
  readonly interrupt: { requested: boolean }
  /** server.client_id and server.last_node_id: read by the on-connect `executing` replay. */
  readonly current: { clientId: string | null; lastNodeId: string | null }
  sleep(ms: number): Promise<void>
  /** Whether the simulator stopped or restarted since this prompt began. */
  aborted(): boolean
  takeFailure(nodeId: string, classType: string): InjectedFailure | undefined
}

/** How a prompt ended, and what goes into its history entry. */
export interface PromptOutcome {
  readonly outcome: 'success' | 'error' | 'interrupted'
  readonly entry: Omit<HistoryEntry, 'prompt'>
}

type NodeResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'interrupted'; readonly nodeId: string }
  | {
      readonly kind: 'error'
      readonly nodeId: string
      readonly message: string
      readonly type: string
      readonly traceback: readonly string[]
      readonly inputs: Record<string, unknown>
    }

const previewCache = new Map<number, Buffer>()

// A small grey PNG that lightens as sampling progresses; real previews are latent decodes.
function previewPng(value: number, max: number): Buffer {
  const level = Math.round((255 * value) / Math.max(1, max))
  let png = previewCache.get(level)
  if (png === undefined) {
    png = encodePng(32, 32, (level << 16) | (level << 8) | level)
    previewCache.set(level, png)
  }
  return png
}

// execution.format_value: primitives as they are, anything else as its str().
function formatValue(value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (['string', 'number', 'boolean'].includes(typeof value)) return value
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' ? `<${type} object>` : pyRepr(value)
}

// What execution_error reports for an exception a node raised: Python exceptions as they are,
// JavaScript ones as `Exception` (or their own name), always with a traceback.
function describeError(error: unknown, pythonModule: string) {
  const nodeFrame = pyFrame(
    `ComfyUI/${pythonModule.replaceAll('.', '/')}.py`,
    1,
    'execute',
    'raise',
  )
  if (error instanceof SimulatedNodeError || error instanceof PyException) {
    return {
      message: error.message,
      type: error instanceof SimulatedNodeError ? error.exceptionType : error.type,
      traceback: error.traceback.length > 0 ? error.traceback : [...executorFrames, nodeFrame],
    }
  }
  const err = error instanceof Error ? error : new Error(String(error))
  return {
    message: err.message,
    type: err.name === 'Error' ? 'Exception' : err.name,
    traceback: [...executorFrames, nodeFrame],
  }
}

// latent_preview.set_preview_method (v0.5.0): a prompt's extra_data.preview_method overrides the
// server's --preview-method for that prompt; 'default', an unknown name or none keeps it.
function previewsFor(method: unknown, serverDefault: boolean): boolean {
  if (method === 'none') return false
  if (method === 'auto' || method === 'latent2rgb' || method === 'taesd') return true
  return serverDefault
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

/** Runs one prompt the way ComfyUI's worker does, sending every message on the way. */
export async function executePrompt(env: ExecutionEnv, item: QueueItem): Promise<PromptOutcome> {
  const { hub, cache } = env
  const { prompt, promptId, extraData } = item
  const rawClientId = extraData['client_id']
  // A client_id that is not a string still counts as "set" (sends are attempted) but no socket
  // can ever be registered under it.
  const clientId =
    rawClientId === undefined || rawClientId === null
      ? null
      : typeof rawClientId === 'string'
        ? rawClientId
        : `\u0000${JSON.stringify(rawClientId)}`
  env.interrupt.requested = false
  env.current.clientId = clientId
  const previews =
    env.version === '0.33' ? previewsFor(extraData['preview_method'], env.previews) : env.previews

  const messages: [string, unknown][] = []
  const addMessage = (event: string, data: Record<string, unknown>, broadcast: boolean) => {
    const full = { ...data, timestamp: Date.now() }
    messages.push([event, full])
    if (clientId !== null || broadcast) hub.sendJson(event, full, clientId)
  }
  addMessage('execution_start', { prompt_id: promptId }, false)

  const nodeType = (id: string) =>
    env.nodeTypes.get(String(prompt[id]?.class_type)) ?? ({} as SimulatedNodeType)
  const linkedValue = (link: [string, number]) => outputsOf(link[0])?.[link[1]]
  const resolveInputs = (id: string) => {
    const resolved: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(prompt[id]?.inputs ?? {})) {
      resolved[name] = isLink(value) ? linkedValue(value) : value
    }
    return resolved
  }
  // IsChangedCache: IS_CHANGED runs once per node before anything executes, so it sees widget
  // values only; an exception counts as NaN (run every time).
  const changedValues = new Map<string, unknown>()
  const changedValue = (id: string) => {
    const isChanged = nodeType(id).isChanged
    if (isChanged === undefined) return null
    const widgets = Object.entries(prompt[id]?.inputs ?? {}).filter(([, v]) => !isLink(v))
    try {
      return isChanged(Object.fromEntries(widgets))
    } catch {
      return Number.NaN
    }
  }
  const signatures = nodeSignatures(prompt, (id) => {
    if (!changedValues.has(id)) changedValues.set(id, changedValue(id))
    return changedValues.get(id)
  })
  const sig = (id: string) => signatures.get(id) ?? `missing:${id}`
  // set_prompt: the cache keeps only what this prompt's nodes could use.
  const keep = new Set(signatures.values())
  for (const map of [cache.outputs, cache.ui]) {
    for (const key of map.keys()) if (!env.cacheEnabled || !keep.has(key)) map.delete(key)
  }
  const values = new Map<string, readonly unknown[]>()
  const outputsOf = (id: string) => values.get(id) ?? cache.outputs.get(sig(id))
  const isCached = (id: string) => env.cacheEnabled && cache.outputs.has(sig(id))

  addMessage(
    'execution_cached',
    { nodes: Object.keys(prompt).filter(isCached), prompt_id: promptId },
    false,
  )
  const currentOutputs = Object.keys(prompt)
  const executed = new Set<string>()

  const progress = new Map<
    string,
    { value: number; max: number; state: 'pending' | 'running' | 'finished' }
  >()
  const entry = (id: string) => {
    let e = progress.get(id)
    if (e === undefined) {
      e = { value: 0, max: 1, state: 'pending' }
      progress.set(id, e)
    }
    return e
  }
  const sendProgressState = () => {
    const nodes: Record<string, unknown> = {}
    for (const [id, e] of progress) {
      if (e.state === 'pending') continue
      nodes[id] = {
        value: e.value,
        max: e.max,
        state: e.state,
        node_id: id,
        prompt_id: promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id,
      }
    }
    hub.sendJson('progress_state', { prompt_id: promptId, nodes }, clientId)
  }
  const finishProgress = (id: string) => {
    const e = entry(id)
    e.state = 'finished'
    e.value = e.max
    sendProgressState()
  }

  // ui_node_outputs: the UI of what ran or was re-sent from cache in this prompt, which is what
  // history holds after 0.3.64 (0.3.64 took every node of the prompt with a cached UI).
  const uiOutputs = new Map<string, { readonly output: unknown; readonly meta: unknown }>()

  // _send_cached_ui: a cached node's UI again, with no `executing`; `output` is null without one.
  const sendCachedUi = (nodeId: string) => {
    const ui = cache.ui.get(sig(nodeId))
    if (ui !== undefined) uiOutputs.set(nodeId, ui)
    if (clientId === null) return
    hub.sendJson(
      'executed',
      { node: nodeId, display_node: nodeId, output: ui?.output ?? null, prompt_id: promptId },
      clientId,
    )
  }

  const executeNode = async (nodeId: string): Promise<NodeResult> => {
    const classType = String(prompt[nodeId]?.class_type)
    const type = nodeType(nodeId)
    if (isCached(nodeId)) {
      // Only cached output nodes get here.
      sendCachedUi(nodeId)
      finishProgress(nodeId)
      return { kind: 'ok' }
    }

    const e = entry(nodeId)
    e.state = 'running'
    e.value = 0
    e.max = 1
    sendProgressState()
    if (clientId !== null) {
      env.current.lastNodeId = nodeId
      hub.sendJson(
        'executing',
        { node: nodeId, display_node: nodeId, prompt_id: promptId },
        clientId,
      )
    }

    const inputs = resolveInputs(nodeId)
    const context: SimulatedNodeContext = {
      nodeId,
      promptId,
      classType,
      inputs,
      progress: (rawValue, max, preview) => {
        // The hook checks for an interrupt before it sends anything.
        if (env.interrupt.requested) throw new InterruptProcessing()
        const value = Math.min(rawValue, max)
        const p = entry(nodeId)
        p.state = 'running'
        p.value = value
        p.max = max
        sendProgressState()
        const image =
          preview === true ? (previews ? previewPng(value, max) : undefined) : preview || undefined
        const withMetadata = hub.supportsPreviewMetadata(clientId)
        if (image !== undefined && withMetadata) {
          const metadata = Buffer.from(
            JSON.stringify({
              node_id: nodeId,
              prompt_id: promptId,
              display_node_id: nodeId,
              parent_node_id: null,
              real_node_id: nodeId,
              image_type: 'image/png',
            }),
          )
          hub.sendBinary(4, Buffer.concat([u32(metadata.length), metadata, image]), clientId)
        }
        hub.sendJson('progress', { value, max, prompt_id: promptId, node: nodeId }, clientId)
        if (image !== undefined && !withMetadata) {
          hub.sendBinary(1, Buffer.concat([u32(2), image]), clientId)
        }
      },
      progressText: (text) => {
        const id = Buffer.from(nodeId)
        hub.sendBinary(3, Buffer.concat([u32(id.length), id, Buffer.from(text)]), null)
      },
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
      return {
        kind: 'error',
        nodeId,
        ...describeError(error, type.pythonModule ?? 'custom_nodes.simulator'),
        inputs: currentInputs(nodeId, inputs),
      }
    }

    const ui = result?.ui
    if (ui !== undefined && Object.keys(ui).length > 0) {
      const entry = {
        output: ui,
        meta: { node_id: nodeId, display_node: nodeId, parent_node: null, real_node_id: nodeId },
      }
      cache.ui.set(sig(nodeId), entry)
      uiOutputs.set(nodeId, entry)
      if (clientId !== null) {
        hub.sendJson(
          'executed',
          { node: nodeId, display_node: nodeId, output: ui, prompt_id: promptId },
          clientId,
        )
      }
    }
    const outputs = result?.outputs ?? []
    values.set(nodeId, outputs)
    cache.outputs.set(sig(nodeId), outputs)
    finishProgress(nodeId)
    executed.add(nodeId)
    return { kind: 'ok' }
  }

  // get_input_data + format_value: declared inputs present in the prompt, then hidden ones.
  const currentInputs = (nodeId: string, inputs: Record<string, unknown>) => {
    const declared = inputTypesOf(nodeType(nodeId))
    const out: Record<string, unknown> = {}
    for (const name of [
      ...Object.keys(declared.required ?? {}),
      ...Object.keys(declared.optional ?? {}),
    ]) {
      if (name in inputs) out[name] = [formatValue(inputs[name])]
    }
    for (const [name, kind] of Object.entries(declared.hidden ?? {})) {
      if (kind === 'PROMPT') out[name] = [pyRepr(prompt)]
      if (kind === 'EXTRA_PNGINFO') out[name] = [formatValue(extraData['extra_pnginfo'])]
      if (kind === 'UNIQUE_ID') out[name] = [nodeId]
    }
    return out
  }

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
      addMessage(
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
    const result = await executeNode(nodeId)
    if (result.kind === 'interrupted') {
      addMessage(
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
      addMessage(
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
        sendCachedUi(id)
      }
    }
  }
  if (finished) addMessage('execution_success', { prompt_id: promptId }, false)

  const historyUi =
    env.version === '0.33'
      ? [...uiOutputs]
      : Object.keys(prompt).flatMap((id) => {
          const ui = cache.ui.get(sig(id))
          return ui === undefined ? [] : [[id, ui] as const]
        })
  const outputs: Record<string, unknown> = {}
  const meta: Record<string, unknown> = {}
  for (const [id, ui] of historyUi) {
    outputs[id] = ui.output
    meta[id] = ui.meta
  }
  env.current.lastNodeId = null
  return {
    outcome: interrupted ? 'interrupted' : finished ? 'success' : 'error',
    entry: {
      outputs,
      status: { status_str: success ? 'success' : 'error', completed: success, messages },
      meta,
    },
  }
}
