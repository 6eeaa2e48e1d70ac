/** Characters `encodeURIComponent` leaves as they are but a form (URLSearchParams) encodes. */
const FORM_RESERVED = /[!'()~]|%20/g

/**
 * A query value encoded exactly as `URLSearchParams` encodes it (spaces as `+`), without
 * building one: a finished job builds a URL per image.
 *
 * @example
 * ```ts
 * formEncode("a b!.png") // a+b%21.png
 * ```
 */
export function formEncode(value: string): string {
  // A lone surrogate (valid in JSON) is written as U+FFFD, where encodeURIComponent would throw.
  return encodeURIComponent(toWellFormed(value)).replace(FORM_RESERVED, (match) =>
    match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/** `String.prototype.toWellFormed` (ES2024; Node 20 has it, the ES2022 typings do not). */
function toWellFormed(value: string): string {
  return (value as string & { toWellFormed(): string }).toWellFormed()
}
