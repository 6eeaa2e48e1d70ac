import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { podAddress } from '../socket/podAddress.js'
import { redactUrl } from '../internal/redactUrl.js'
import type { CliContext } from './CliContext.js'
import { CliError, ExitCode } from './CliError.js'

/** ComfyUI's own default address. */
export const DEFAULT_URL = 'http://127.0.0.1:8188'

/** The pod options a command takes from its flags. */
export interface PodFlags {
  readonly url: string | undefined
  readonly clientId: string | undefined
  readonly header: readonly string[] | undefined
}

/** A pod the CLI checked it can talk to, and the headers its image downloads need. */
export interface OpenedPod {
  readonly pod: ComfyPod
  readonly headers: Readonly<Record<string, string>>
}

/**
 * Creates the pod from `--url` (else `COMFYUI_URL`, else ComfyUI's default address) and checks
 * it answers `GET /system_stats`: an unreachable pod is then one clear message at once, rather
 * than a job that retries its socket and polls for many seconds before it gives up.
 *
 * @throws CliError: exit code 2 for a bad URL or header, 1 for a pod that cannot be used
 */
export async function openPod(context: CliContext, flags: PodFlags): Promise<OpenedPod> {
  const fromEnv = context.env['COMFYUI_URL']
  const url = flags.url ?? (fromEnv === undefined || fromEnv === '' ? DEFAULT_URL : fromEnv)
  const source = flags.url !== undefined ? '--url' : url === fromEnv ? 'COMFYUI_URL' : 'the URL'
  const headers = parseHeaders(flags.header ?? [])
  let pod: ComfyPod
  try {
    pod = new ComfyPod(url, {
      headers,
      fetch: context.fetch,
      ...(flags.clientId === undefined ? {} : { clientId: flags.clientId }),
    })
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new CliError(
      message.startsWith('url ')
        ? `${source} must be an http(s) URL such as ${DEFAULT_URL}, received ${redactUrl(url)}`
        : message.replace(/^clientId/, '--client-id'),
      ExitCode.usage,
      { cause },
    )
  }
  try {
    await pod.getSystemStats()
  } catch (cause) {
    pod.close()
    throw unusable(pod.url, source, cause)
  }
  return { pod, headers: { ...headers, ...podAddress(url, pod.clientId).headers } }
}

function unusable(url: string, source: string, cause: unknown): CliError {
  if (cause instanceof ComfyHttpError && cause.status === 0) {
    const reason = cause.message.replace(/^.*? failed: /, '')
    return new CliError(
      `cannot reach the pod at ${url}: ${reason}. Is ComfyUI running there? ` +
        `Give its address with --url or COMFYUI_URL${source === 'the URL' ? ` (default ${DEFAULT_URL})` : ''}.`,
      ExitCode.failed,
      { cause },
    )
  }
  if (cause instanceof ComfyAuthError) {
    return new CliError(
      `the pod at ${url} refused the credentials (${cause.status}): pass them with ` +
        `--header "Authorization: Bearer …" or in the URL (http://user:password@host:port)`,
      ExitCode.failed,
      { cause },
    )
  }
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new CliError(`${url} does not answer like a ComfyUI server: ${reason}`, ExitCode.failed, {
    cause,
  })
}

function parseHeaders(headers: readonly string[]): Record<string, string> {
  const parsed: Record<string, string> = {}
  for (const header of headers) {
    const colon = header.indexOf(':')
    const name = header.slice(0, colon).trim()
    if (colon < 1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      // The value may be a secret: show the name alone.
      throw new CliError(
        `--header must be "Name: value", received ${JSON.stringify(colon < 1 ? '…' : `${name}: …`)}`,
        ExitCode.usage,
      )
    }
    parsed[name.toLowerCase()] = header.slice(colon + 1).trim()
  }
  return parsed
}
