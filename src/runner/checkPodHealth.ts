import {
  defer,
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
 * request itself ends by the pod's own `requestTimeoutMs`; its late answer is ignored.
 */
export function checkPodHealth(
  pod: { readonly url: string; getSystemStats(): ObservableInput<unknown> },
  timeoutMs: number,
  scheduler: SchedulerLike,
): Observable<void> {
  return defer(() => pod.getSystemStats()).pipe(
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
