import { encodePng } from './encodePng.js'
import type { ExecutionEnv } from './ExecutionEnv.js'
import type { QueueItem } from './PromptQueue.js'

// main.py's progress hook, comfy_execution/progress.py's WebUI handler and the server's
// send_sync calls: what clients are told about one prompt, in ComfyUI's order.

interface NodeProgress {
  readonly value: number
  readonly max: number
  readonly state: 'running' | 'finished'
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

/**
 * The messages of one prompt: JSON and binary frames to its client (or to every client), and
 * the log of them that its history entry keeps. Makes the prompt's client the server's current
 * one, as ComfyUI does when a prompt starts.
 */
export class PromptReporter {
  /** The prompt's client_id; null when it has none. */
  readonly clientId: string | null
  /** status.messages of the history entry. */
  readonly messages: [string, unknown][] = []
  private readonly promptId: string
  private readonly previews: boolean
  /** progress_state's nodes, in the order they started. */
  private readonly nodes = new Map<string, NodeProgress>()

  constructor(
    private readonly env: ExecutionEnv,
    item: QueueItem,
  ) {
    const rawClientId = item.extraData['client_id']
    // A client_id that is not a string still counts as "set" (sends are attempted) but no socket
    // can ever be registered under it.
    this.clientId =
      rawClientId === undefined || rawClientId === null
        ? null
        : typeof rawClientId === 'string'
          ? rawClientId
          : `\u0000${JSON.stringify(rawClientId)}`
    this.promptId = item.promptId
    this.previews =
      env.version === '0.33'
        ? previewsFor(item.extraData['preview_method'], env.previews)
        : env.previews
    env.current.clientId = this.clientId
  }

  /** A message history keeps: sent to the prompt's client, or to everyone if `broadcast`. */
  log(event: string, data: Record<string, unknown>, broadcast: boolean): void {
    const full = { ...data, timestamp: Date.now() }
    this.messages.push([event, full])
    if (this.clientId !== null || broadcast) this.env.hub.sendJson(event, full, this.clientId)
  }

  /** A node begins to execute: progress_state, then `executing`. */
  nodeStarted(nodeId: string): void {
    this.setProgress(nodeId, { value: 0, max: 1, state: 'running' })
    if (this.clientId === null) return
    this.env.current.lastNodeId = nodeId
    this.env.hub.sendJson(
      'executing',
      { node: nodeId, display_node: nodeId, prompt_id: this.promptId },
      this.clientId,
    )
  }

  /**
   * The progress hook: progress_state, the preview (with metadata to clients that support it,
   * before `progress`; the legacy frame after it), and `progress`. `preview` true stands for a
   * sampler's latent preview, sent while previews are on.
   */
  progress(nodeId: string, rawValue: number, max: number, preview?: boolean | Uint8Array): void {
    const { hub } = this.env
    const value = Math.min(rawValue, max)
    this.setProgress(nodeId, { value, max, state: 'running' })
    const image =
      preview === true ? (this.previews ? previewPng(value, max) : undefined) : preview || undefined
    const withMetadata = hub.supportsPreviewMetadata(this.clientId)
    if (image !== undefined && withMetadata) {
      const metadata = Buffer.from(
        JSON.stringify({
          node_id: nodeId,
          prompt_id: this.promptId,
          display_node_id: nodeId,
          parent_node_id: null,
          real_node_id: nodeId,
          image_type: 'image/png',
        }),
      )
      hub.sendBinary(4, Buffer.concat([u32(metadata.length), metadata, image]), this.clientId)
    }
    hub.sendJson('progress', { value, max, prompt_id: this.promptId, node: nodeId }, this.clientId)
    if (image !== undefined && !withMetadata) {
      hub.sendBinary(1, Buffer.concat([u32(2), image]), this.clientId)
    }
  }

  /** PromptServer.send_progress_text: a binary frame to every client. */
  progressText(nodeId: string, text: string): void {
    const id = Buffer.from(nodeId)
    this.env.hub.sendBinary(3, Buffer.concat([u32(id.length), id, Buffer.from(text)]), null)
  }

  /** A node's UI dict (`output` null for a cached node without one). */
  executed(nodeId: string, output: unknown): void {
    if (this.clientId === null) return
    this.env.hub.sendJson(
      'executed',
      { node: nodeId, display_node: nodeId, output, prompt_id: this.promptId },
      this.clientId,
    )
  }

  /** A node is done, executed or taken from the cache: its progress is full. */
  nodeFinished(nodeId: string): void {
    const max = this.nodes.get(nodeId)?.max ?? 1
    this.setProgress(nodeId, { value: max, max, state: 'finished' })
  }

  private setProgress(nodeId: string, progress: NodeProgress): void {
    this.nodes.set(nodeId, progress)
    const nodes: Record<string, unknown> = {}
    for (const [id, { value, max, state }] of this.nodes) {
      nodes[id] = {
        value,
        max,
        state,
        node_id: id,
        prompt_id: this.promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id,
      }
    }
    this.env.hub.sendJson('progress_state', { prompt_id: this.promptId, nodes }, this.clientId)
  }
}
