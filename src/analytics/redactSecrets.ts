import { redactUrl } from '../internal/redactUrl.js'

const URLS = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]+/gi
const AUTH_VALUES =
  /\b(authorization|proxy-authorization|cookie|x-api-key)(["']?\s*[:=]\s*["']?)[^\s"',;]+(?:\s+[^\s"',;]+)?/gi
const SCHEMES = /\b(bearer|basic|token)\s+[a-z0-9._~+/=-]{8,}/gi

/**
 * Text safe for analytics: URLs lose their credentials and token parameters (`redactUrl`),
 * `Authorization: …`-like values and bearer/basic tokens become `***`.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(URLS, (url) => redactUrl(url))
    .replace(AUTH_VALUES, (_match, name: string, separator: string) => `${name}${separator}***`)
    .replace(SCHEMES, (_match, scheme: string) => `${scheme} ***`)
}
