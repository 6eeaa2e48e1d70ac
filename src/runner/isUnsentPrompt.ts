import { ComfyHttpError } from '../errors/ComfyHttpError.js'

/**
 * Whether a job's error proves that its prompt never reached the pod: `POST /prompt` could not
 * even connect (ECONNREFUSED). Only then may the job go to another pod without risking two
 * generations; a reset or a timeout may come after the pod took the prompt.
 */
export function isUnsentPrompt(error: unknown): boolean {
  return (
    error instanceof ComfyHttpError &&
    error.status === 0 &&
    error.method === 'POST' &&
    pathOf(error.url).endsWith('/prompt') &&
    refused(error.cause, 0)
  )
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return ''
  }
}

// undici: TypeError('fetch failed', {cause: Error{code: 'ECONNREFUSED'}}), or an AggregateError
// of one such error per address tried.
function refused(cause: unknown, depth: number): boolean {
  if (typeof cause !== 'object' || cause === null || depth > 5) return false
  if ((cause as { code?: unknown }).code === 'ECONNREFUSED') return true
  if (cause instanceof AggregateError && cause.errors.length > 0)
    return cause.errors.every((inner) => refused(inner, depth + 1))
  return refused((cause as { cause?: unknown }).cause, depth + 1)
}
