// ComfyUI builds error texts with Python's str()/repr() and raises Python exceptions while it
// validates; these helpers reproduce just enough of both for the simulator's answers to read
// like the real server's.

/** A Python exception raised while validating or executing (type, str(ex), traceback frames). */
export class PyException extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly traceback: readonly string[] = [],
  ) {
    super(message)
  }
}

/** Python `repr(float)`: `1.0`, `0.1`, `1e-05`, `1e+16`, `inf`, `nan`. */
export function pyFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan'
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf'
  // toExponential() with no argument gives the shortest round-trip digits, as Python's repr does.
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e')
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+'
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`
  }
  const text = String(value)
  return text.includes('.') || text.includes('e') ? text : `${text}.0`
}

/** Python `repr()` of a JSON value (strings in single quotes, `None`, `True`, lists, dicts). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'"
    const escaped = value
      .replaceAll('\\', '\\\\')
      .replaceAll('\n', '\\n')
      .replaceAll('\r', '\\r')
      .replaceAll('\t', '\\t')
    return quote + (quote === "'" ? escaped.replaceAll("'", "\\'") : escaped) + quote
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
    return `{${entries.join(', ')}}`
  }
  return String(value)
}

/** Python `str()` of a JSON value: strings bare, everything else as `repr()`. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value)
}

/** Python `isinstance(value, dict)` for a JSON value: an object that is not an array. */
export const isDict = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Python's type name of a JSON value, as in `TypeError` texts. */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  if (typeof value === 'string') return 'str'
  if (Array.isArray(value)) return 'list'
  return 'dict'
}

/** Python truthiness of a JSON value. */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') {
    return false
  }
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return true
}

/** Python `int(value)`; throws the PyException Python would raise. */
export function pyInt(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number') {
    if (Number.isNaN(value))
      throw new PyException('ValueError', 'cannot convert float NaN to integer')
    if (!Number.isFinite(value)) {
      throw new PyException('OverflowError', 'cannot convert float infinity to integer')
    }
    return Math.trunc(value)
  }
  if (typeof value === 'string') {
    const text = value.trim().replaceAll('_', '')
    if (/^[+-]?\d+$/.test(text)) return Number(text)
    throw new PyException('ValueError', `invalid literal for int() with base 10: ${pyRepr(value)}`)
  }
  throw new PyException(
    'TypeError',
    `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'`,
  )
}

/** Python `float(value)`; throws the PyException Python would raise. */
export function pyFloatOf(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number') return value
  if (typeof value === 'string') {
    const text = value.trim().replaceAll('_', '').toLowerCase()
    if (/^[+-]?(inf|infinity)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity
    if (/^[+-]?nan$/.test(text)) return NaN
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(text)) return Number(text)
    throw new PyException('ValueError', `could not convert string to float: ${pyRepr(value)}`)
  }
  throw new PyException(
    'TypeError',
    `float() argument must be a string or a real number, not '${pyTypeName(value)}'`,
  )
}

/** One formatted traceback frame, shaped like `traceback.format_tb()` output. */
export function pyFrame(file: string, line: number, fn: string, code: string): string {
  return `  File "${file}", line ${line}, in ${fn}\n    ${code}\n`
}
