import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyCancelledError } from '../errors/ComfyCancelledError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import { ComfyError } from '../errors/ComfyError.js'
import { ComfyExecutionError } from '../errors/ComfyExecutionError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { ComfyInterruptedError } from '../errors/ComfyInterruptedError.js'
import { ComfyPromptLostError } from '../errors/ComfyPromptLostError.js'
import { ComfyQueueError } from '../errors/ComfyQueueError.js'
import { ComfyStoreError } from '../errors/ComfyStoreError.js'
import { ComfyTimeoutError } from '../errors/ComfyTimeoutError.js'
import { ComfyValidationError } from '../errors/ComfyValidationError.js'

/** @internal An error as JSON: its class name, message and own fields. */
export interface ErrorRecord {
  readonly name: string
  readonly message: string
  readonly fields: Readonly<Record<string, unknown>>
}

const CLASSES: Readonly<Record<string, new (...args: never[]) => Error>> = {
  ComfyAuthError,
  ComfyCancelledError,
  ComfyConnectionError,
  ComfyError,
  ComfyExecutionError,
  ComfyHttpError,
  ComfyInterruptedError,
  ComfyPromptLostError,
  ComfyQueueError,
  ComfyStoreError,
  ComfyTimeoutError,
  ComfyValidationError,
  TypeError,
}

/** @internal What an error becomes in a job's data: its fields that JSON keeps. */
export function recordError(error: unknown): ErrorRecord {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} }
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key === 'name' || key === 'message' || key === 'cause') continue
    try {
      fields[key] = JSON.parse(JSON.stringify(value)) as unknown
    } catch {
      // Not JSON (a cycle, a BigInt): left out.
    }
  }
  return { name: error.name, message: error.message, fields }
}

/**
 * @internal The error a record was made of, of its class when it is one of this library's (an
 * `Error` named after it otherwise), with its fields: `instanceof` and `error.reason` work as on
 * the instance that ran the job.
 */
export function reviveError(record: ErrorRecord): Error {
  const Class = Object.hasOwn(CLASSES, record.name) ? CLASSES[record.name]! : Error
  const error = Object.create(Class.prototype) as Error
  Object.assign(error, record.fields)
  Object.defineProperties(error, {
    name: { value: record.name, enumerable: true, configurable: true },
    message: { value: record.message, writable: true, configurable: true },
    stack: { value: `${record.name}: ${record.message}`, writable: true, configurable: true },
  })
  return error
}
