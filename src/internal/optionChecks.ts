// The one way options are checked: a TypeError that names the option and the value received.

/** Throws the `TypeError` of an invalid option. */
export function invalid(name: string, value: unknown, expected: string): never {
  throw new TypeError(`${name} must be ${expected}, received ${describe(value)}`)
}

/** Checks a number option is finite and > 0. */
export function positive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    invalid(name, value, 'a number > 0')
}

/** Checks a number option is > 0, `Infinity` (for none) included. */
export function positiveOrInfinity(name: string, value: unknown): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0)
    invalid(name, value, 'a number > 0 (Infinity for none)')
}

/** Checks a number option is finite and >= 0. */
export function nonNegative(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    invalid(name, value, 'a number >= 0')
}

/** Checks a number option is an integer >= 0. */
export function nonNegativeInteger(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    invalid(name, value, 'an integer >= 0')
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}
