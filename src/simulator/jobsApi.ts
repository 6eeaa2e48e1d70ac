import type { HistoryEntry, PromptQueue, QueueItem } from './PromptQueue.js'
import { isDict, PyException, pyInt, pyRepr, pyStr, pyTypeName } from './python.js'
import type { SimulatorRuntime } from './SimulatorRuntime.js'

// The Jobs API of ComfyUI 0.33 (v0.6.0; `cancelled` v0.9.0; cancel by id v0.26.0): server.py's
// /api/jobs handlers and comfy_execution/jobs.py, which turn the queue and history into one list
// of jobs. The routes only exist under /api; jobsRoutes serves them for version 0.33.

/** A status code and the JSON body to answer with. */
export interface JobsAnswer {
  readonly status: number
  readonly body: unknown
}

const JOB_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled']

const PREVIEWABLE_MEDIA_TYPES = new Set(['images', 'video', 'audio', '3d', 'text'])
const THREE_D_EXTENSIONS = ['.obj', '.fbx', '.gltf', '.glb', '.usdz']
const TEXT_EXTENSIONS = ['.txt', '.md', '.json']
const TEXT_PREVIEW_MAX_LENGTH = 1024

/**
 * jobs.validate_job_id: `str(uuid.UUID(v)) == v`, i.e. a UUID in canonical lower-case hyphenated
 * form (any version).
 */
export const isCanonicalUuid = (value: unknown): value is string =>
  typeof value === 'string' &&
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)

// `d.get(key, default)` on whatever JSON the client sent: anything but a dict raises (a 500).
function dictGet(value: unknown, key: string, fallback: unknown): unknown {
  if (!isDict(value)) {
    throw new PyException('AttributeError', `'${pyTypeName(value)}' object has no attribute 'get'`)
  }
  return key in value ? value[key] : fallback
}

// prune_dict: absent values are left out, not null.
const prune = (job: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(job).filter(([, v]) => v !== null && v !== undefined))

const endsWithAny = (name: unknown, extensions: readonly string[]) =>
  typeof name === 'string' && extensions.some((ext) => name.toLowerCase().endsWith(ext))

// normalize_output_item: dicts as they are, 3D file names as file references, the rest dropped.
function normalizeOutputItem(item: unknown): Record<string, unknown> | undefined {
  if (isDict(item)) return item
  if (endsWithAny(item, THREE_D_EXTENSIONS)) {
    return { filename: item, type: 'output', subfolder: '', mediaType: '3d' }
  }
  return undefined
}

const isPreviewable = (mediaType: string, item: Record<string, unknown>) => {
  const format = item['format']
  return (
    PREVIEWABLE_MEDIA_TYPES.has(mediaType) ||
    (typeof format === 'string' && (format.startsWith('video/') || format.startsWith('audio/'))) ||
    endsWithAny(item['filename'], THREE_D_EXTENSIONS) ||
    endsWithAny(item['filename'], TEXT_EXTENSIONS)
  )
}

const isTextPreview = (mediaType: string, item: Record<string, unknown>) =>
  mediaType === 'text' || endsWithAny(item['filename'], TEXT_EXTENSIONS)

// Each list of file references in each node's UI dict; 'animated' is a flag, not a list of files.
function* outputLists(outputs: Record<string, unknown>) {
  for (const [nodeId, nodeOutputs] of Object.entries(outputs)) {
    if (!isDict(nodeOutputs)) continue
    for (const [mediaType, items] of Object.entries(nodeOutputs)) {
      if (mediaType !== 'animated' && Array.isArray(items)) yield { nodeId, mediaType, items }
    }
  }
}

// get_outputs_summary: every file counts; the preview is the first saved visual output, else any
// visual one, else a saved text file, else a piece of UI text (which does not count as a file).
function outputsSummary(outputs: Record<string, unknown>) {
  let count = 0
  let preview: Record<string, unknown> | undefined
  let fallback: Record<string, unknown> | undefined
  let textFile: Record<string, unknown> | undefined
  let text: Record<string, unknown> | undefined
  for (const { nodeId, mediaType, items } of outputLists(outputs)) {
    for (const raw of items) {
      const item = normalizeOutputItem(raw)
      if (item === undefined) {
        if (mediaType === 'text' && preview === undefined && text === undefined) {
          const chars = Array.from(pyStr(raw))
          text = {
            content: chars.slice(0, TEXT_PREVIEW_MAX_LENGTH).join(''),
            ...(chars.length > TEXT_PREVIEW_MAX_LENGTH ? { truncated: true } : {}),
            nodeId,
            mediaType,
          }
        }
        continue
      }
      count++
      if (preview !== undefined || !isPreviewable(mediaType, item)) continue
      const enriched = { ...item, nodeId, ...('mediaType' in item ? {} : { mediaType }) }
      if (isTextPreview(mediaType, item)) textFile ??= enriched
      else if (item['type'] === 'output') preview = enriched
      else fallback ??= enriched
    }
  }
  return { count, preview: preview ?? fallback ?? textFile ?? text }
}

// count_previewable_outputs: only what the expanded asset view would show.
function previewableCount(outputs: Record<string, unknown>): number {
  let count = 0
  for (const { mediaType, items } of outputLists(outputs)) {
    for (const raw of items) {
      const item = normalizeOutputItem(raw)
      if (item !== undefined && isPreviewable(mediaType, item)) count++
    }
  }
  return count
}

// normalize_outputs: as history has them, with None items dropped and 3D names made references.
function normalizeOutputs(outputs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(outputs).map(([nodeId, nodeOutputs]) => [
      nodeId,
      isDict(nodeOutputs)
        ? Object.fromEntries(
            Object.entries(nodeOutputs).map(([mediaType, items]) => [
              mediaType,
              mediaType === 'animated' || !Array.isArray(items)
                ? items
                : items
                    .filter((item) => item !== null)
                    .map((item) => normalizeOutputItem(item) ?? item),
            ]),
          )
        : nodeOutputs,
    ]),
  )
}

// _extract_job_metadata
function metadata(extraData: unknown) {
  const pngInfo = dictGet(extraData, 'extra_pnginfo', {})
  return {
    createTime: dictGet(extraData, 'create_time', null),
    workflowId: dictGet(dictGet(pngInfo, 'workflow', {}), 'id', null),
  }
}

// normalize_queue_item
function queueJob(item: QueueItem, status: 'pending' | 'in_progress'): Record<string, unknown> {
  const { createTime, workflowId } = metadata(item.extraData)
  return prune({
    id: item.promptId,
    status,
    priority: item.number,
    create_time: createTime,
    outputs_count: 0,
    previewable_outputs_count: 0,
    workflow_id: workflowId,
  })
}

// normalize_history_item: the outcome from status_str, with an interrupt as `cancelled`; times
// from the timestamps of execution_start and the terminal message.
function historyJob(
  promptId: string,
  entry: HistoryEntry,
  withDetails: boolean,
): Record<string, unknown> {
  const [priority, , prompt, extraData] = entry.prompt
  const { createTime, workflowId } = metadata(extraData)
  let startTime: unknown = null
  let endTime: unknown = null
  let error: unknown = null
  let interrupted = false
  for (const [event, data] of entry.status.messages) {
    if (!isDict(data)) continue
    if (event === 'execution_start') startTime = data['timestamp']
    if (['execution_success', 'execution_error', 'execution_interrupted'].includes(event)) {
      endTime = data['timestamp']
      if (event === 'execution_error') error = data
      if (event === 'execution_interrupted') interrupted = true
    }
  }
  const { count, preview } = outputsSummary(entry.outputs)
  const job = prune({
    id: promptId,
    status:
      entry.status.status_str === 'error' ? (interrupted ? 'cancelled' : 'failed') : 'completed',
    priority,
    create_time: createTime,
    execution_start_time: startTime,
    execution_end_time: endTime,
    execution_error: error,
    outputs_count: count,
    previewable_outputs_count: previewableCount(entry.outputs),
    preview_output: preview,
    workflow_id: workflowId,
  })
  if (!withDetails) return job
  return {
    ...job,
    outputs: normalizeOutputs(entry.outputs),
    execution_status: entry.status,
    workflow: { prompt, extra_data: extraData },
  }
}

const badRequest = (error: string): JobsAnswer => ({ status: 400, body: { error } })

// apply_sorting: Python's stable sort, descending without reversing equal keys.
function sortJobs(jobs: Record<string, unknown>[], sortBy: string, order: string) {
  const num = (v: unknown) => (typeof v === 'number' ? v : 0)
  const key = (job: Record<string, unknown>) => {
    if (sortBy !== 'execution_duration') return num(job['create_time'])
    const start = num(job['execution_start_time'])
    const end = num(job['execution_end_time'])
    return start !== 0 && end !== 0 ? end - start : 0
  }
  return [...jobs].sort((a, b) => (order === 'desc' ? key(b) - key(a) : key(a) - key(b)))
}

/** `GET /api/jobs`: the running, pending and finished prompts, filtered, sorted and paged. */
export function listJobs(queue: PromptQueue, query: URLSearchParams): JobsAnswer {
  const statusParam = query.get('status')
  const workflowId = query.get('workflow_id')
  const sortBy = (query.get('sort_by') ?? 'created_at').toLowerCase()
  const sortOrder = (query.get('sort_order') ?? 'desc').toLowerCase()
  let statuses = JOB_STATUSES
  if (statusParam !== null && statusParam !== '') {
    statuses = statusParam
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => s.toLowerCase())
    const invalid = statuses.filter((s) => !JOB_STATUSES.includes(s))
    if (invalid.length > 0) {
      return badRequest(
        `Invalid status value(s): ${invalid.join(', ')}. Valid values: ${JOB_STATUSES.join(', ')}`,
      )
    }
  }
  if (sortBy !== 'created_at' && sortBy !== 'execution_duration') {
    return badRequest("sort_by must be 'created_at' or 'execution_duration'")
  }
  if (sortOrder !== 'asc' && sortOrder !== 'desc') {
    return badRequest("sort_order must be 'asc' or 'desc'")
  }
  let limit: number | null = null
  if (query.has('limit')) {
    try {
      limit = pyInt(query.get('limit'))
    } catch {
      return badRequest('limit must be an integer')
    }
    if (limit <= 0) return badRequest('limit must be a positive integer')
  }
  let offset = 0
  if (query.has('offset')) {
    try {
      offset = Math.max(0, pyInt(query.get('offset')))
    } catch {
      return badRequest('offset must be an integer')
    }
  }

  let jobs: Record<string, unknown>[] = []
  if (statuses.includes('in_progress') && queue.current !== undefined) {
    jobs.push(queueJob(queue.current, 'in_progress'))
  }
  if (statuses.includes('pending')) jobs.push(...queue.pending.map((i) => queueJob(i, 'pending')))
  // Only a filter that asks for finished jobs reads the history.
  if (statuses.some((s) => s === 'completed' || s === 'failed' || s === 'cancelled')) {
    for (const [promptId, entry] of queue.historyEntries) {
      const job = historyJob(promptId, entry, false)
      if (statuses.includes(job['status'] as string)) jobs.push(job)
    }
  }
  if (workflowId !== null && workflowId !== '') {
    jobs = jobs.filter((job) => job['workflow_id'] === workflowId)
  }
  const sorted = sortJobs(jobs, sortBy, sortOrder)
  const page = sorted.slice(offset, limit === null ? undefined : offset + limit)
  return {
    status: 200,
    body: {
      jobs: page,
      pagination: {
        offset,
        limit,
        total: sorted.length,
        has_more: offset + page.length < sorted.length,
      },
    },
  }
}

/** `GET /api/jobs/{id}`: history first (with outputs and the workflow), then the queue. */
export function getJob(queue: PromptQueue, promptId: string): JobsAnswer {
  const entry = queue.historyEntry(promptId)
  if (entry !== undefined) return { status: 200, body: historyJob(promptId, entry, true) }
  if (queue.current?.promptId === promptId) {
    return { status: 200, body: queueJob(queue.current, 'in_progress') }
  }
  const pending = queue.pending.find((item) => item.promptId === promptId)
  if (pending !== undefined) return { status: 200, body: queueJob(pending, 'pending') }
  return { status: 404, body: { error: 'Job not found' } }
}

// jobs.cancel_job: a running prompt is interrupted (only if it still runs), a pending one leaves
// the queue without any message to its client; finished and unknown ids are no-ops.
const cancel = (runtime: SimulatorRuntime, promptId: unknown) =>
  runtime.interruptIfRunning(promptId) || runtime.queue.delete(promptId)

/** `POST /api/jobs/{id}/cancel`: whether a running or pending prompt was cancelled. */
export function cancelJob(runtime: SimulatorRuntime, promptId: string): JobsAnswer {
  return { status: 200, body: { cancelled: cancel(runtime, promptId) } }
}

/**
 * `POST /api/jobs/cancel {"job_ids": [...]}`: cancels each (unknown and finished ids are no-ops)
 * once every id is a canonical UUID; says whether any was cancelled.
 */
export function cancelJobs(runtime: SimulatorRuntime, body: string): JobsAnswer {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return badRequest('Request body must be valid JSON')
  }
  const jobIds = isDict(parsed) ? parsed['job_ids'] : undefined
  if (!Array.isArray(jobIds)) return badRequest('job_ids must be a list')
  const invalid = jobIds
    .filter((id) => !isCanonicalUuid(id))
    .map((id) => (typeof id === 'string' ? id : pyRepr(id)))
  if (invalid.length > 0) {
    return {
      status: 400,
      body: { error: 'job_ids contains invalid id(s)', invalid_ids: invalid },
    }
  }
  let cancelled = false
  for (const id of jobIds) if (cancel(runtime, id)) cancelled = true
  return { status: 200, body: { cancelled } }
}
