import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { freemem, totalmem } from 'node:os'
import { posix } from 'node:path'
import type { SimulatedModels } from './builtinNodeTypes.js'
import type { FileStore, FileType } from './FileStore.js'
import type { QueueItem } from './PromptQueue.js'
import { PyException, pyFloatOf, pyInt, pyTruthy } from './python.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { SimulatorRuntime } from './SimulatorRuntime.js'
import { inputTypesOf, validatePrompt } from './validatePrompt.js'

// server.py's routes (§5). Status codes and bodies follow aiohttp's: JSON answers carry
// `application/json; charset=utf-8`, the "empty" answers are 200 with no body, an exception in a
// handler is a 500 with aiohttp's text.

/** What the routes read and change. */
export interface HttpContext {
  readonly runtime: () => SimulatorRuntime
  readonly files: FileStore
  readonly nodeTypes: ReadonlyMap<string, SimulatedNodeType>
  readonly models: SimulatedModels
  readonly maxUploadSize: number
  readonly argv: readonly string[]
  readonly serverFeatures: () => Record<string, unknown>
  readonly queued: (promptId: string) => void
}

type Reply = (res: ServerResponse) => void

const json =
  (status: number, body: unknown): Reply =>
  (res) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    })
    res.end(text)
  }

const text =
  (status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply =>
  (res) => {
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
    })
    res.end(body)
  }

const empty: Reply = (res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 })
  res.end()
}

const status = (code: number): Reply => text(code, `${code}: ${STATUS_TEXT[code] ?? 'Error'}`)

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request Entity Too Large',
}

const internalError = text(500, '500 Internal Server Error\n\nServer got itself in trouble')

class TooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new TooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new TooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

// `await request.json()`: anything unparseable raises, which aiohttp turns into a 500.
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw new PyException('JSONDecodeError', 'Expecting value: line 1 column 1 (char 0)')
  }
}

const queueTuple = (item: QueueItem) => [
  item.number,
  item.promptId,
  item.prompt,
  item.extraData,
  item.outputsToExecute,
]

// str(json_data.get("prompt_id")): Python spellings for the non-string cases.
function promptIdOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  return typeof value === 'number' ? String(value) : JSON.stringify(value)
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.flac': 'audio/flac',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
}

function nodeInfo(name: string, type: SimulatedNodeType): Record<string, unknown> {
  const input = inputTypesOf(type)
  const output = type.output ?? []
  const info: Record<string, unknown> = {
    input,
    input_order: Object.fromEntries(
      Object.entries(input).map(([k, v]) => [k, Object.keys(v as object)]),
    ),
    output,
    output_is_list: output.map(() => false),
    output_name: type.outputName ?? output,
    name,
    display_name: type.displayName ?? name,
    description: type.description ?? '',
    python_module: type.pythonModule ?? 'custom_nodes.simulator',
    category: type.category ?? 'simulator',
    output_node: type.outputNode === true,
  }
  if (type.outputTooltips !== undefined) info['output_tooltips'] = type.outputTooltips
  return info
}

/** Routes one HTTP request; `path` is already stripped of its `/api` prefix. */
export async function handleHttpRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  path: string,
  query: URLSearchParams,
): Promise<Reply> {
  const method = req.method ?? 'GET'
  const route = ROUTES.find(([pattern]) => pattern.test(path))
  if (route === undefined) return status(404)
  const handler = route[1][method === 'HEAD' ? 'GET' : method]
  if (handler === undefined) return status(405)
  try {
    const match = route[0].exec(path) as RegExpExecArray
    return await handler({ ctx, req, query, param: decodeURIComponent(match[1] ?? '') })
  } catch (error) {
    if (error instanceof TooLarge) {
      return text(413, `Maximum request body size ${ctx.maxUploadSize} exceeded`)
    }
    if (error instanceof PyException) return internalError
    throw error
  }
}

interface RouteArgs {
  readonly ctx: HttpContext
  readonly req: IncomingMessage
  readonly query: URLSearchParams
  readonly param: string
}

type Handler = (args: RouteArgs) => Reply | Promise<Reply>

const jsonBody = async ({ ctx, req }: RouteArgs) =>
  parseJson(await readBody(req, ctx.maxUploadSize))

const ROUTES: readonly (readonly [RegExp, Readonly<Record<string, Handler>>])[] = [
  [
    /^\/prompt$/,
    {
      GET: ({ ctx }) =>
        json(200, { exec_info: { queue_remaining: ctx.runtime().queue.remaining } }),
      POST: async (args) => postPrompt(args.ctx, await jsonBody(args)),
    },
  ],
  [
    /^\/queue$/,
    {
      GET: ({ ctx }) => {
        const queue = ctx.runtime().queue
        return json(200, {
          queue_running: queue.current === undefined ? [] : [queueTuple(queue.current)],
          queue_pending: queue.pending.map(queueTuple),
        })
      },
      POST: async (args) => {
        const body = await jsonBody(args)
        const queue = args.ctx.runtime().queue
        if (isObject(body)) {
          if ('clear' in body && pyTruthy(body['clear'])) queue.wipe()
          if ('delete' in body && Array.isArray(body['delete'])) {
            for (const id of body['delete']) queue.delete(id)
          }
        }
        return empty
      },
    },
  ],
  [
    /^\/history$/,
    {
      GET: ({ ctx, query }) => {
        const maxItems = query.get('max_items')
        const offset = query.get('offset')
        return json(
          200,
          ctx
            .runtime()
            .queue.historySlice(
              maxItems === null ? undefined : pyInt(maxItems),
              offset === null ? -1 : pyInt(offset),
            ),
        )
      },
      POST: async (args) => {
        const body = await jsonBody(args)
        const queue = args.ctx.runtime().queue
        if (isObject(body)) {
          if ('clear' in body && pyTruthy(body['clear'])) queue.wipeHistory()
          if ('delete' in body && Array.isArray(body['delete'])) {
            for (const id of body['delete']) queue.deleteHistory(id)
          }
        }
        return empty
      },
    },
  ],
  [
    /^\/history\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const entry = ctx.runtime().queue.historyEntry(param)
        return json(200, entry === undefined ? {} : { [param]: entry })
      },
    },
  ],
  [
    /^\/interrupt$/,
    {
      POST: async ({ ctx, req }) => {
        let body: unknown = {}
        try {
          body = JSON.parse((await readBody(req, ctx.maxUploadSize)).toString('utf8'))
        } catch (error) {
          if (error instanceof TooLarge) throw error
        }
        const runtime = ctx.runtime()
        const promptId = isObject(body) ? body['prompt_id'] : undefined
        if (pyTruthy(promptId)) {
          // Targeted: only the prompt now running; a pending one is left alone.
          if (runtime.queue.current?.promptId === promptId) runtime.interrupt.requested = true
        } else {
          runtime.interrupt.requested = true
        }
        return empty
      },
    },
  ],
  [
    /^\/free$/,
    {
      POST: async (args) => {
        const body = await jsonBody(args)
        if (isObject(body) && pyTruthy(body['free_memory'])) args.ctx.runtime().freeMemory()
        return empty
      },
    },
  ],
  [/^\/view$/, { GET: ({ ctx, query }) => view(ctx, query) }],
  [/^\/upload\/image$/, { POST: (args) => upload(args) }],
  [
    /^\/system_stats$/,
    {
      GET: ({ ctx }) =>
        json(200, {
          system: {
            os: 'posix',
            ram_total: totalmem(),
            ram_free: freemem(),
            comfyui_version: '0.3.64',
            required_frontend_version: '1.27.10',
            installed_templates_version: null,
            required_templates_version: '0.1.95',
            python_version: '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]',
            pytorch_version: '2.8.0+cpu',
            embedded_python: false,
            argv: ctx.argv,
          },
          devices: [
            {
              name: 'cpu',
              type: 'cpu',
              index: null,
              vram_total: totalmem(),
              vram_free: freemem(),
              torch_vram_total: totalmem(),
              torch_vram_free: freemem(),
            },
          ],
        }),
    },
  ],
  [
    /^\/object_info$/,
    {
      GET: ({ ctx }) =>
        json(
          200,
          Object.fromEntries(
            [...ctx.nodeTypes].map(([name, type]) => [name, nodeInfo(name, type)]),
          ),
        ),
    },
  ],
  [
    /^\/object_info\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const type = ctx.nodeTypes.get(param)
        return json(200, type === undefined ? {} : { [param]: nodeInfo(param, type) })
      },
    },
  ],
  [/^\/features$/, { GET: ({ ctx }) => json(200, ctx.serverFeatures()) }],
  // A plain GET of the socket path (no Upgrade header), answered like aiohttp's ws.prepare.
  [
    /^\/ws$/,
    {
      GET: () => text(400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'),
    },
  ],
  [/^\/embeddings$/, { GET: () => json(200, []) }],
  [/^\/extensions$/, { GET: () => json(200, []) }],
  [/^\/models$/, { GET: ({ ctx }) => json(200, Object.keys(modelFolders(ctx.models))) }],
  [
    /^\/models\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const list = modelFolders(ctx.models)[param]
        return list === undefined ? status(404) : json(200, list)
      },
    },
  ],
]

const modelFolders = (models: SimulatedModels): Record<string, readonly string[]> => ({
  checkpoints: models.checkpoints,
  vae: models.vae,
})

function postPrompt(ctx: HttpContext, body: unknown): Reply {
  const runtime = ctx.runtime()
  if (!isObject(body)) {
    // `"number" in json_data` works on lists and strings (which then lack "prompt") and raises
    // on numbers, booleans and null.
    if (!Array.isArray(body) && typeof body !== 'string') return internalError
    runtime.number++
    return noPrompt
  }
  let number: number
  if ('number' in body) {
    number = pyFloatOf(body['number'])
  } else {
    number = runtime.number
    if ('front' in body && pyTruthy(body['front'])) number = -number
    runtime.number++
  }
  if (!('prompt' in body)) return noPrompt

  const prompt = body['prompt']
  const promptId = 'prompt_id' in body ? promptIdOf(body['prompt_id']) : randomUUID()
  const targets = body['partial_execution_targets']
  if ('partial_execution_targets' in body && targets !== null && !Array.isArray(targets)) {
    return internalError
  }
  const outcome = validatePrompt(
    prompt,
    ctx.nodeTypes,
    Array.isArray(targets) ? targets : undefined,
  )
  const extraSource = 'extra_data' in body ? body['extra_data'] : {}
  if (!isObject(extraSource)) return internalError
  const extraData: Record<string, unknown> = { ...extraSource }
  if ('client_id' in body) extraData['client_id'] = body['client_id']
  if (!outcome.ok) return json(400, { error: outcome.error, node_errors: outcome.nodeErrors })

  runtime.put({
    number,
    promptId,
    prompt: prompt as QueueItem['prompt'],
    extraData,
    outputsToExecute: outcome.outputs,
  })
  ctx.queued(promptId)
  return json(200, { prompt_id: promptId, number, node_errors: outcome.nodeErrors })
}

const noPrompt = json(400, {
  error: {
    type: 'no_prompt',
    message: 'No prompt provided',
    details: 'No prompt provided',
    extra_info: {},
  },
  node_errors: {},
})

const FILE_TYPES = new Set<string>(['output', 'input', 'temp'])

// §5.9: 400 for a bad name or type, 403 for a subfolder outside the folder, 404 when missing.
function view(ctx: HttpContext, query: URLSearchParams): Reply {
  let filename = query.get('filename')
  if (filename === null) return status(404)
  let type: string | undefined
  const annotation = / \[(output|input|temp)\]$/.exec(filename)
  if (annotation !== null) {
    type = annotation[1]
    filename = filename.slice(0, annotation.index)
  }
  if (filename === '' || filename.startsWith('/') || filename.includes('..')) return status(400)
  type ??= query.get('type') ?? 'output'
  if (!FILE_TYPES.has(type)) return status(400)
  let subfolder = ''
  const requested = query.get('subfolder')
  if (requested !== null) {
    const normalized = posix.normalize(requested)
    if (posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../')) {
      return status(403)
    }
    subfolder = normalized === '.' ? '' : normalized.replace(/\/$/, '')
  }
  const name = posix.basename(filename)
  const bytes = ctx.files.read(type as FileType, subfolder, name)
  if (bytes === undefined) return status(404)
  const ext = posix.extname(name).toLowerCase()
  return (res) => {
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': bytes.length,
      'Content-Disposition': `filename="${name}"`,
    })
    res.end(bytes)
  }
}

// §5.10, server.py image_upload
async function upload({ ctx, req }: RouteArgs): Promise<Reply> {
  const body = await readBody(req, ctx.maxUploadSize)
  let form: FormData
  try {
    form = await new Request('http://simulator/upload', {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body: new Uint8Array(body),
    }).formData()
  } catch {
    return status(400)
  }
  const image = form.get('image')
  if (image === null || typeof image === 'string' || image.name === '') return status(400)
  const rawType = form.get('type')
  const type: FileType = rawType === 'temp' || rawType === 'output' ? rawType : 'input'
  const rawSubfolder = form.get('subfolder')
  const subfolder = typeof rawSubfolder === 'string' ? rawSubfolder : ''
  const normalized = posix.normalize(posix.join(subfolder, image.name))
  if (posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../')) {
    return status(400)
  }
  const overwrite = form.get('overwrite')
  const name = ctx.files.upload(
    type,
    posix.dirname(normalized) === '.' ? '' : posix.dirname(normalized),
    posix.basename(normalized),
    Buffer.from(await image.arrayBuffer()),
    overwrite === 'true' || overwrite === '1',
  )
  return json(200, { name, subfolder, type })
}
