/**
 * What was thrown, as one line for an error message or a diagnostic: its message, and its
 * cause's where it has one (`fetch failed (connect ECONNREFUSED 127.0.0.1:8188)`).
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const inner = (error as { cause?: unknown }).cause
  return inner instanceof Error ? `${error.message} (${inner.message})` : error.message
}
