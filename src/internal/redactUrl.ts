const SECRET_PARAMS =
  /^(token|access_token|api_key|apikey|key|auth|authorization|password|secret|signature|sig)$/i

/** The URL without credentials: user:pass@ and token-like query values become `***`. */
export function redactUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@')
  }
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***'
    parsed.password = ''
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) parsed.searchParams.set(name, '***')
  }
  return parsed.toString()
}
