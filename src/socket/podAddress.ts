import { invalid } from '../internal/optionChecks.js'
import { redactUrl } from '../internal/redactUrl.js'

/** Where a pod is reached, derived once from the URL its user gave. */
export interface PodAddress {
  /** The URL of a REST path (`/prompt`, `/history/x?max_items=1`), keeping the base URL's query. */
  readonly httpUrl: (path: string) => string
  /** `ws(s)://host[:port][/base]/ws?clientId=…`. */
  readonly wsUrl: string
  /** `Authorization` from `user:pass@` in the URL, if any. */
  readonly headers: Readonly<Record<string, string>>
  /** The URL safe to show: credentials and token parameters replaced by `***`. */
  readonly display: string
}

/** Parses `http(s)://[user:pass@]host[:port][/base]`; throws a `TypeError` for anything else. */
export function podAddress(url: string, clientId: string): PodAddress {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return invalid('url', redactUrl(String(url)), 'an http(s) URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    invalid('url', redactUrl(url), 'an http(s) URL')
  }
  const headers: Record<string, string> = {}
  if (parsed.username !== '' || parsed.password !== '') {
    const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
    headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`
    parsed.username = ''
    parsed.password = ''
  }
  parsed.hash = ''
  const query = parsed.search.slice(1)
  parsed.search = ''
  const base = parsed.toString().replace(/\/+$/, '')
  const ws = new URL(`${base}/ws`)
  ws.search = query
  ws.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:'
  ws.searchParams.set('clientId', clientId)
  const httpUrl = (path: string): string =>
    query === '' ? `${base}${path}` : `${base}${path}${path.includes('?') ? '&' : '?'}${query}`
  return { httpUrl, wsUrl: ws.toString(), headers, display: redactUrl(url) }
}
