import { posix } from 'node:path'
import type { FileType } from './FileStore.js'
import { readBody } from './readBody.js'
import { json, status } from './Reply.js'
import type { Reply } from './Reply.js'
import type { HttpContext, Route, RouteArgs } from './Route.js'

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

/** /view and /upload/image: the output, input and temp folders. */
export const fileRoutes: readonly Route[] = [
  [/^\/view$/, { GET: ({ ctx, query }) => view(ctx, query) }],
  [/^\/upload\/image$/, { POST: (args) => upload(args) }],
]
