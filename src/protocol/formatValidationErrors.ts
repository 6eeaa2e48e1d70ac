import type * as t from 'io-ts'

/** io-ts errors as short `path: expected X, got Y` lines, for diagnostics and error messages. */
export function formatValidationErrors(errors: t.Errors, limit = 5): string[] {
  return errors.slice(0, limit).map((error) => {
    const path = error.context
      .map((entry) => entry.key)
      .filter((key) => key !== '' && !/^\d+$/.test(key))
      .join('.')
    const expected = error.context[error.context.length - 1]?.type.name ?? 'unknown'
    return `${path || '<root>'}: expected ${expected}, got ${preview(error.value)}`
  })
}

function preview(value: unknown): string {
  if (value === undefined) return 'undefined'
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
