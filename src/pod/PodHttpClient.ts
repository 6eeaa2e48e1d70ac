import type { SchedulerLike } from 'rxjs'
import type * as t from 'io-ts'
import { isLeft } from 'fp-ts/lib/Either.js'
import { ComfyAuthError } from '../errors/ComfyAuthError.js'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'
import { compileGuard } from '../protocol/compileGuard.js'
import { formatValidationErrors } from '../protocol/formatValidationErrors.js'
import type { PodAddress } from '../socket/podAddress.js'
import { redactUrl } from '../internal/redactUrl.js'
import { describeError } from '../internal/describeError.js'

/** A pod's answer: its status and body text. */
export interface PodResponse {
  readonly status: number
  readonly body: string
}

const BODY_LIMIT = 2_000

/** Each codec's guard, compiled on its first answer. */
const guards = new WeakMap<t.Any, t.Is<unknown>>()

function guardOf<A>(codec: t.Type<A>): t.Is<A> {
  let guard = guards.get(codec)
  if (guard === undefined) {
    guard = compileGuard(codec)
    guards.set(codec, guard)
  }
  return guard as t.Is<A>
}

/** The REST side of a pod: one place that calls `fetch`, times out and types its failures. */
export class PodHttpClient {
  constructor(
    private readonly address: PodAddress,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs: number,
    private readonly scheduler: SchedulerLike,
  ) {}

  /**
   * Sends a request; any status is an answer. Throws `ComfyHttpError` (status 0) when none came,
   * within `requestTimeoutMs` or before the caller's `signal` aborted.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<PodResponse> {
    const url = this.address.httpUrl(path)
    const headers: Record<string, string> = { ...this.headers }
    if (body !== undefined) headers['content-type'] = 'application/json'
    // Not AbortSignal.timeout: its timer would outlive every request that answers in time.
    const request = new AbortController()
    const timer = this.scheduler.schedule(() => request.abort(), this.timeoutMs)
    const abort = (): void => request.abort(signal?.reason)
    signal?.addEventListener('abort', abort, { once: true })
    try {
      const response = await this.fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: request.signal,
      })
      return { status: response.status, body: await response.text() }
    } catch (cause) {
      const reason =
        request.signal.aborted && signal?.aborted !== true
          ? `no answer within ${this.timeoutMs} ms`
          : describeError(cause)
      throw new ComfyHttpError(
        `${method} ${redactUrl(url)} failed: ${reason}`,
        method,
        redactUrl(url),
        0,
        undefined,
        { cause },
      )
    } finally {
      timer.unsubscribe()
      signal?.removeEventListener('abort', abort)
    }
  }

  /** Sends a request and decodes a 2xx JSON answer with `codec`; anything else is a `ComfyHttpError`. */
  async json<A>(
    codec: t.Type<A>,
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<A> {
    return this.decode(codec, method, path, await this.request(method, path, body, signal))
  }

  /** Sends a request whose 2xx answer has no body to read (`POST /queue`, `/interrupt`). */
  async send(method: string, path: string, body?: unknown): Promise<void> {
    const response = await this.request(method, path, body)
    if (response.status < 200 || response.status >= 300)
      throw this.statusError(method, path, response)
  }

  /** Decodes an answer already received. */
  decode<A>(codec: t.Type<A>, method: string, path: string, response: PodResponse): A {
    if (response.status < 200 || response.status >= 300)
      throw this.statusError(method, path, response)
    let parsed: unknown
    try {
      parsed = JSON.parse(response.body)
    } catch (cause) {
      throw this.error(method, path, response, 'answered a body that is not JSON', cause)
    }
    // No codec of the protocol transforms its input: the compiled guard validates without
    // building a copy, and `decode` runs only to explain a body that failed.
    if (guardOf(codec)(parsed)) return parsed
    const decoded = codec.decode(parsed)
    if (isLeft(decoded)) {
      throw this.error(
        method,
        path,
        response,
        `answered an unexpected body (${formatValidationErrors(decoded.left, 3).join('; ')})`,
      )
    }
    return decoded.right
  }

  private statusError(
    method: string,
    path: string,
    response: PodResponse,
  ): ComfyHttpError | ComfyAuthError {
    if (response.status === 401 || response.status === 403) {
      return new ComfyAuthError(redactUrl(this.address.httpUrl(path)), response.status)
    }
    return this.error(method, path, response, `answered ${response.status}`)
  }

  private error(
    method: string,
    path: string,
    response: PodResponse,
    what: string,
    cause?: unknown,
  ): ComfyHttpError {
    const url = redactUrl(this.address.httpUrl(path))
    const body =
      response.body.length > BODY_LIMIT ? `${response.body.slice(0, BODY_LIMIT)}…` : response.body
    return new ComfyHttpError(
      `${method} ${url} ${what}`,
      method,
      url,
      response.status,
      body,
      cause === undefined ? undefined : { cause },
    )
  }
}
