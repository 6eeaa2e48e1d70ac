import { randomUUID } from 'node:crypto'
import { isCanonicalUuid } from './jobsApi.js'
import { SENSITIVE_EXTRA_DATA_KEYS } from './PromptQueue.js'
import type { QueueItem } from './PromptQueue.js'
import { isDict, pyFloatOf, pyTruthy } from './python.js'
import { internalError, json } from './Reply.js'
import type { Reply } from './Reply.js'
import type { HttpContext } from './Route.js'
import { validatePrompt } from './validatePrompt.js'

// str(json_data.get("prompt_id")): Python spellings for the non-string cases.
function promptIdOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  return typeof value === 'number' ? String(value) : JSON.stringify(value)
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

/**
 * server.py post_prompt: numbers, validates and queues a prompt, with the 400 answers of a
 * missing or invalid prompt and the 500 of a body Python chokes on.
 */
export function postPrompt(ctx: HttpContext, body: unknown): Reply {
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
