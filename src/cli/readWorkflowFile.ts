import { readFile } from 'node:fs/promises'
import type { Workflow } from '../job/Workflow.js'
import { CliError, ExitCode } from './CliError.js'

const HOW_TO_EXPORT =
  'Export it in the API format instead: in ComfyUI, menu Workflow → Export (API); in older ' +
  'versions, turn on "Enable Dev mode Options" in the settings, then use "Save (API Format)".'

/**
 * Reads a workflow file and checks it is in ComfyUI's API format, with one clear message per way
 * it can be wrong: missing, unreadable, not JSON (with line and column), saved in the UI format,
 * or not a map of nodes.
 *
 * @throws CliError with exit code 2
 */
export async function readWorkflowFile(path: string): Promise<Workflow> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    const what =
      code === 'ENOENT'
        ? `workflow file not found: ${path}`
        : code === 'EISDIR'
          ? `${path} is a directory, not a workflow file`
          : `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
    throw new CliError(what, ExitCode.usage, { cause })
  }
  let parsed: unknown
  // A byte-order mark (Windows editors) is not JSON, but means no harm.
  text = text.replace(/^\uFEFF/, '')
  if (text.trim() === '') throw new CliError(`${path} is empty, not a workflow`, ExitCode.usage)
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new CliError(
      `${path} is not valid JSON: ${describeJsonError(cause, text)}`,
      ExitCode.usage,
      { cause },
    )
  }
  return checkApiFormat(parsed, path)
}

function checkApiFormat(value: unknown, path: string): Workflow {
  const notAWorkflow = (why: string): CliError =>
    new CliError(
      `${path} is not a ComfyUI workflow in the API format: ${why}. An API-format workflow maps ` +
        `node ids to nodes: {"3": {"class_type": "KSampler", "inputs": {…}}, …}.`,
      ExitCode.usage,
    )
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw notAWorkflow(`it is ${describeValue(value)}`)
  }
  const record = value as Record<string, unknown>
  if (Array.isArray(record['nodes'])) {
    throw new CliError(
      `${path} is a workflow saved in ComfyUI's UI format (it has "nodes" and "links" arrays), ` +
        `which the API (POST /prompt) does not accept. ${HOW_TO_EXPORT}`,
      ExitCode.usage,
    )
  }
  const entries = Object.entries(record)
  if (entries.length === 0) throw notAWorkflow('it has no nodes')
  for (const [id, node] of entries) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw notAWorkflow(`"${id}" is ${describeValue(node)}, not a node`)
    }
    const { class_type, inputs } = node as Record<string, unknown>
    if (typeof class_type !== 'string') throw notAWorkflow(`node "${id}" has no "class_type"`)
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
      throw notAWorkflow(`node "${id}" (${class_type}) has no "inputs" object`)
    }
  }
  return record as Workflow
}

/** V8's reason, without its excerpt of the text, and where the error is as a line and column. */
function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error)
  const reason = message.replace(/(,| in JSON| after JSON).*$/s, '')
  const offset = firstJsonErrorOffset(text)
  if (offset === undefined) return reason
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `${reason} (line ${line}, column ${column})`
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/**
 * The offset of the first syntax error of a JSON text (RFC 8259), which Node 20's `JSON.parse`
 * gives for some errors only; undefined if there is none.
 */
function firstJsonErrorOffset(text: string): number | undefined {
  let i = 0
  const fail = (): never => {
    throw new JsonSyntaxAt(i)
  }
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const expect = (char: string): void => {
    space()
    if (text[i] !== char) fail()
    i++
  }
  const string = (): void => {
    if (text[i] !== '"') fail()
    i++
    for (;;) {
      const char = text[i]
      if (char === undefined || char < ' ') fail()
      if (char === '"') break
      if (char === '\\') {
        i++
        if (text[i] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 4
        else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail()
      }
      i++
    }
    i++
  }
  const value = (): void => {
    space()
    const char = text[i]
    if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']'
      i++
      space()
      if (text[i] === close) {
        i++
        return
      }
      for (;;) {
        if (close === '}') {
          space()
          string()
          expect(':')
        }
        value()
        space()
        if (text[i] === close) break
        expect(',')
      }
      i++
      return
    }
    if (char === '"') return string()
    const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i))
    if (literal !== undefined) {
      i += literal.length
      return
    }
    NUMBER.lastIndex = i
    const number = NUMBER.exec(text)
    if (number === null) return fail()
    i += number[0].length
  }
  try {
    value()
    space()
    if (i < text.length) fail()
    return undefined
  } catch (error) {
    if (error instanceof JsonSyntaxAt) return error.offset
    throw error
  }
}

class JsonSyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`)
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}
