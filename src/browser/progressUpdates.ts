import { Observable } from 'rxjs'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import { ProgressStreamError } from './ProgressStreamError.js'
import { parseProgressUpdate, PROGRESS_STATUSES } from '../progress/parseProgressUpdate.js'
import { invalid } from '../internal/optionChecks.js'

// Bundled for browsers: no Node module, nothing from the server side but types.

/** The part of `EventSource` this helper uses (a polyfill or a test double will do). */
export interface EventSourceLike {
  readonly readyState: number
  addEventListener(type: string, listener: (event: MessageEvent) => void): void
  removeEventListener(type: string, listener: (event: MessageEvent) => void): void
  close(): void
}

/** Options of `progressUpdates$`. */
export interface ProgressUpdatesOptions {
  /**
   * Send cookies with a cross-origin stream (`EventSource`'s `withCredentials`).
   * @default false
   */
  readonly withCredentials?: boolean
  /**
   * Creates the event source (a polyfill that sends headers, a test double, …).
   * @default (url, init) => new EventSource(url, init)
   */
  readonly eventSource?: (url: string, init: { withCredentials: boolean }) => EventSourceLike
  /**
   * Called when the stream opens (`'open'`, also after each reconnection) and when it is lost
   * and `EventSource` tries again (`'reconnecting'`), to show it.
   * @default undefined
   */
  readonly onConnection?: (state: 'open' | 'reconnecting') => void
}

/** `EventSource.CLOSED`, without needing the global where it may not exist. */
const CLOSED = 2

/**
 * The `ProgressUpdate`s of a prompt, from an event stream served by `toServerSentEvents` or
 * `toEventStreamResponse`: for front ends that use RxJS. Opens an `EventSource` on subscription,
 * which reconnects by itself (sending `Last-Event-ID`, so the server answers with the latest
 * state); emits each update, then completes after the final one (`completed`, or `failed` with
 * a message to show); closes the source on unsubscription. Errors with `ProgressStreamError` when
 * the server refuses the stream (a 404 for an unknown prompt, …). Malformed events are skipped.
 *
 * @example
 * ```ts
 * import { progressUpdates$ } from 'comfyui-rx/browser'
 *
 * progressUpdates$(`/api/image/comfyui/${promptId}/progress`).subscribe((update) => {
 *   bar.style.width = `${update.progress}%` // 0 … 45 … 100
 *   if (update.status === 'failed') alert(update.message)
 * })
 * ```
 * @param url - the event stream's URL
 * @param options - see `ProgressUpdatesOptions`
 * @returns the prompt's updates; completes after the final one
 */
export function progressUpdates$(
  url: string | URL,
  options: ProgressUpdatesOptions = {},
): Observable<ProgressUpdate> {
  const {
    withCredentials = false,
    eventSource = (href, init) => new EventSource(href, init),
    onConnection,
  } = options
  if (typeof eventSource !== 'function') {
    invalid('eventSource', eventSource, 'a function')
  }
  const href = String(url)
  return new Observable<ProgressUpdate>((subscriber) => {
    const source = eventSource(href, { withCredentials })
    const onUpdate = (event: MessageEvent) => {
      const update = parseProgressUpdate(event.data)
      if (update === undefined) return
      subscriber.next(update)
      if (update.status === 'completed' || update.status === 'failed') {
        // Closed before completing: an ended stream would otherwise be reopened by EventSource.
        source.close()
        subscriber.complete()
      }
    }
    const onOpen = () => onConnection?.('open')
    const onError = () => {
      if (source.readyState === CLOSED) subscriber.error(new ProgressStreamError(href))
      else onConnection?.('reconnecting')
    }
    for (const status of PROGRESS_STATUSES) source.addEventListener(status, onUpdate)
    source.addEventListener('open', onOpen)
    source.addEventListener('error', onError)
    return () => {
      for (const status of PROGRESS_STATUSES) source.removeEventListener(status, onUpdate)
      source.removeEventListener('open', onOpen)
      source.removeEventListener('error', onError)
      source.close()
    }
  })
}
