import {
  defer,
  finalize,
  from,
  map,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
  throwError,
  timeout,
} from 'rxjs'
import { ComfyHttpError } from '../errors/ComfyHttpError.js'

/**
 * `GET /system_stats` with a short limit: emits once when the pod answers, errors with the
 * `ComfyHttpError` of the call, or one of status 0 when no answer came within `timeoutMs`. The
 * request is aborted with the check, so none outlives it.
 */
export function checkPodHealth(
  pod: {
    readonly url: string
    getSystemStats(options: { readonly signal?: AbortSignal }): ObservableInput<unknown>
  },
  timeoutMs: number,
  scheduler: SchedulerLike,
): Observable<void> {
  return defer(() => {
    const request = new AbortController()
    return from(pod.getSystemStats({ signal: request.signal })).pipe(
      finalize(() => request.abort()),
    )
  }).pipe(
    map(() => undefined),
    timeout({
      first: timeoutMs,
      scheduler,
      with: () =>
        throwError(
          () =>
            new ComfyHttpError(
              `${pod.url} did not answer GET /system_stats within ${timeoutMs} ms`,
              'GET',
              pod.url,
              0,
            ),
        ),
    }),
  )
}
