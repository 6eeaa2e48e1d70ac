import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { freemem, totalmem } from 'node:os'
import { posix } from 'node:path'
import type { SimulatedModels } from './builtinNodeTypes.js'
import type { FileStore, FileType } from './FileStore.js'
import { cancelJob, cancelJobs, getJob, isCanonicalUuid, listJobs } from './jobsApi.js'
import type { JobsAnswer } from './jobsApi.js'
import { SENSITIVE_EXTRA_DATA_KEYS } from './PromptQueue.js'
import type { QueueItem } from './PromptQueue.js'
import { isDict, PyException, pyFloatOf, pyInt, pyTruthy } from './python.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'
import type { SimulatorRuntime } from './SimulatorRuntime.js'
import { inputTypesOf, validatePrompt } from './validatePrompt.js'

// server.py's routes (§5). Status codes and bodies follow aiohttp's: JSON answers carry
// `application/json; charset=utf-8`, the "empty" answers are 200 with no body, an exception in a
// handler is a 500 with aiohttp's text.

/** What the routes read and change. */
export interface HttpContext {
  readonly version: SimulatedComfyVersion
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

// `await request.json()`: anything unparseable raises, which aiohttp turns into a 500.
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw new PyException('JSONDecodeError', 'Expecting value: line 1 column 1 (char 0)')
  }
}

/** A path without its `/api` prefix, under which server.py serves every route a second time. */
export const stripApi = (path: string): string =>
  path === '/api' ? '/' : path.startsWith('/api/') ? path.slice(4) : path

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

function nodeInfo(
  name: string,
  type: SimulatedNodeType,
  version: SimulatedComfyVersion,
): Record<string, unknown> {
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
  if (version === '0.33') info['has_intermediate_output'] = type.hasIntermediateOutput === true
  if (type.outputTooltips !== undefined) info['output_tooltips'] = type.outputTooltips
  return info
}

/**
 * Routes one HTTP request. Like aiohttp, the first route whose path and method match answers; a
 * path that matches with another method only is a 405. Every route is served as written and
 * again under `/api` (server.py add_routes), so the Jobs API, written `/api/jobs`, is not at
 * `/jobs`.
 */
export async function handleHttpRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  pathname: string,
  query: URLSearchParams,
): Promise<Reply> {
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
  const paths = [...new Set([pathname, stripApi(pathname)])]
  const matches = (ctx.version === '0.33' ? ROUTES_0_33 : ROUTES).flatMap(([pattern, handlers]) =>
    paths.flatMap((path) => {
      const match = pattern.exec(path)
      return match === null ? [] : [{ handler: handlers[method], match }]
    }),
  )
  if (matches.length === 0) return status(404)
  const found = matches.find(({ handler }) => handler !== undefined)
  if (found?.handler === undefined) return status(405)
  try {
    const param = decodeURIComponent(found.match[1] ?? '')
    return await found.handler({ ctx, req, query, param })
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

const answer = ({ status, body }: JobsAnswer) => json(status, body)

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
        if (isDict(body)) {
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
        if (isDict(body)) {
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
        const promptId = isDict(body) ? body['prompt_id'] : undefined
        // Targeted: only the prompt now running; a pending one is left alone.
        if (pyTruthy(promptId)) runtime.interruptIfRunning(promptId)
        else runtime.interrupt.requested = true
        return empty
      },
    },
  ],
  [
    /^\/free$/,
    {
      POST: async (args) => {
        const body = await jsonBody(args)
        if (isDict(body) && pyTruthy(body['free_memory'])) args.ctx.runtime().freeMemory()
        return empty
      },
    },
  ],
  [/^\/view$/, { GET: ({ ctx, query }) => view(ctx, query) }],
  [/^\/upload\/image$/, { POST: (args) => upload(args) }],
  [/^\/system_stats$/, { GET: ({ ctx }) => json(200, systemStats(ctx)) }],
  [
    /^\/object_info$/,
    {
      GET: ({ ctx }) =>
        json(
          200,
          Object.fromEntries(
            [...ctx.nodeTypes].map(([name, type]) => [name, nodeInfo(name, type, ctx.version)]),
          ),
        ),
    },
  ],
  [
    /^\/object_info\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const type = ctx.nodeTypes.get(param)
        return json(200, type === undefined ? {} : { [param]: nodeInfo(param, type, ctx.version) })
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

// Registered as /api/jobs… in server.py's table, so served at /api/jobs and /api/api/jobs only.
const JOBS_ROUTES: readonly (readonly [RegExp, Readonly<Record<string, Handler>>])[] = [
  [/^\/api\/jobs$/, { GET: ({ ctx, query }) => answer(listJobs(ctx.runtime().queue, query)) }],
  [
    /^\/api\/jobs\/cancel$/,
    {
      POST: async ({ ctx, req }) =>
        answer(cancelJobs(ctx.runtime(), (await readBody(req, ctx.maxUploadSize)).toString())),
    },
  ],
  [
    /^\/api\/jobs\/([^{}/]+)\/cancel$/,
    { POST: ({ ctx, param }) => answer(cancelJob(ctx.runtime(), param)) },
  ],
  [
    /^\/api\/jobs\/([^{}/]+)$/,
    { GET: ({ ctx, param }) => answer(getJob(ctx.runtime().queue, param)) },
  ],
]

const ROUTES_0_33 = [...ROUTES, ...JOBS_ROUTES]

const PYTHON_VERSION = '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]'

// comfy* packages of requirements.txt, as ComfyUI lists them; the templates are not installed,
// as on the pod the 0.3.64 traces come from.
const COMFY_PACKAGE_VERSIONS = [
  ['comfyui-frontend-package', '1.45.15', '1.45.15'],
  ['comfyui-workflow-templates', null, '0.10.0'],
  ['comfyui-embedded-docs', '0.5.4', '0.5.4'],
  ['comfy-kitchen', '0.2.10', '0.2.10'],
  ['comfy-aimdo', '0.4.10', '0.4.10'],
].map(([name, installed, required]) => ({ name, installed, required }))

// A CPU-only pod. 0.33 (v0.4.0) reports sys.platform as `os` and adds the comfy* package versions
// and the deploy environment (`local-git` without a .comfy_environment file).
function systemStats(ctx: HttpContext) {
  const system =
    ctx.version === '0.33'
      ? {
          os: 'linux',
          ram_total: totalmem(),
          ram_free: freemem(),
          comfyui_version: '0.33.0',
          required_frontend_version: '1.45.15',
          installed_templates_version: null,
          required_templates_version: '0.10.0',
          comfy_package_versions: COMFY_PACKAGE_VERSIONS,
          python_version: PYTHON_VERSION,
          pytorch_version: '2.8.0+cpu',
          embedded_python: false,
          deploy_environment: 'local-git',
          argv: ctx.argv,
        }
      : {
          os: 'posix',
          ram_total: totalmem(),
          ram_free: freemem(),
          comfyui_version: '0.3.64',
          required_frontend_version: '1.27.10',
          installed_templates_version: null,
          required_templates_version: '0.1.95',
          python_version: PYTHON_VERSION,
          pytorch_version: '2.8.0+cpu',
          embedded_python: false,
          argv: ctx.argv,
        }
  return {
    system,
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
  }
}

const modelFolders = (models: SimulatedModels): Record<string, readonly string[]> => ({
  checkpoints: models.checkpoints,
  vae: models.vae,
})

function postPrompt(ctx: HttpContext, body: unknown): Reply {
  const runtime = ctx.runtime()
  if (!isDict(body)) {
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
  let promptId: string
  if (ctx.version === '0.33') {
    // v0.25.0: a client's id must be a canonical UUID; absent or null, the server picks one.
    const given = body['prompt_id'] ?? null
    if (given !== null && !isCanonicalUuid(given)) return invalidPromptId
    promptId = given ?? randomUUID()
  } else {
    promptId = 'prompt_id' in body ? promptIdOf(body['prompt_id']) : randomUUID()
  }
  const targets = body['partial_execution_targets']
  if ('partial_execution_targets' in body && targets !== null && !Array.isArray(targets)) {
    return internalError
  }
  const outcome = validatePrompt(
    prompt,
    ctx.nodeTypes,
    Array.isArray(targets) ? targets : undefined,
    ctx.version,
  )
  const extraSource = 'extra_data' in body ? body['extra_data'] : {}
  if (!isDict(extraSource)) return internalError
  const extraData: Record<string, unknown> = { ...extraSource }
  if ('client_id' in body) extraData['client_id'] = body['client_id']
  if (!outcome.ok) return json(400, { error: outcome.error, node_errors: outcome.nodeErrors })
  if (ctx.version === '0.33') {
    // Credentials stay out of /queue (v0.3.68); the queue time is recorded (v0.3.69).
    for (const key of SENSITIVE_EXTRA_DATA_KEYS) delete extraData[key]
    extraData['create_time'] = Date.now()
  }

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

const invalidPromptId = json(400, {
  error: {
    type: 'invalid_prompt_id',
    message: 'prompt_id must be a valid UUID',
    details:
      'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
    extra_info: {},
  },
  node_errors: {},
})

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
