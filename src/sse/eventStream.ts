import type { Observable, Subscription } from 'rxjs'
import type { JobEvent } from '../job/JobEvent.js'
import { eventStreamFrames$ } from './eventStreamFrames.js'
import { isFinal } from '../progress/LatestUpdate.js'
import type { ProgressUpdate } from '../progress/ProgressUpdate.js'
import type { ResolvedServerSentEventsOptions } from './ServerSentEventsOptions.js'

// The transport-independent part of the SSE helpers: what to send (updates, keepalives) and how
// to send it to a reader that may be slow (latest state wins) or gone (unsubscribe, cancel).

/** Headers of every event stream; `no-transform` and `X-Accel-Buffering` stop proxy buffering. */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
}

/** One event (`id:`, `event:` the status, `data:` the JSON update). */
export function encodeEvent(id: number, update: ProgressUpdate): string {
  return `id: ${id}\nevent: ${update.status}\ndata: ${JSON.stringify(update)}\n\n`
}

/** Where a session writes. */
export interface EventStreamSink {
  /** Writes a chunk; false when the reader is behind (the session then waits for `drain()`). */
  write(chunk: string): boolean
  /** Ends the stream. */
  end(): void
}

/**
 * One client's stream. A reader that falls behind never makes it buffer more than the transport's
 * high-water mark plus one event: while the sink is full, only the latest update is kept (it
 * replaces the one before) and keepalives are skipped.
 */
export class EventStreamSession {
  private nextId: number
  private latest: ProgressUpdate | undefined
  private pending: ProgressUpdate | undefined
  private blocked = false
  private ended = false
  private subscription: Subscription | undefined

  constructor(
    private readonly sink: EventStreamSink,
    private readonly options: ResolvedServerSentEventsOptions,
    lastEventId: string | null | undefined,
  ) {
    // Ids go on from the browser's Last-Event-ID, so they keep increasing across reconnections.
    const last = /^\d{1,15}$/.test(lastEventId ?? '') ? Number(lastEventId) : 0
    this.nextId = last + 1
  }

  start(input$: Observable<JobEvent | ProgressUpdate>): void {
    this.write(`retry: ${this.options.retryMs}\n\n`)
    this.subscription = eventStreamFrames$(input$, this.options).subscribe({
      next: (frame) => (frame === 'keepalive' ? this.keepAlive() : this.offer(frame.update)),
      complete: () => this.finish(),
      error: () => this.finish(),
    })
    if (this.ended) this.subscription.unsubscribe()
  }

  /** The sink can take more: send the update that waited, if any. */
  drain(): void {
    if (this.ended) return
    this.blocked = false
    const pending = this.pending
    this.pending = undefined
    if (pending !== undefined) this.send(pending)
  }

  /** The client went away: unsubscribe now, and cancel the prompt if asked to. */
  disconnect(): void {
    if (this.ended) return
    this.ended = true
    this.subscription?.unsubscribe()
    const promptId = this.latest?.promptId ?? this.options.promptId
    const { cancelOnDisconnect } = this.options
    if (cancelOnDisconnect !== undefined && promptId !== undefined && promptId !== '') {
      if (this.latest === undefined || !isFinal(this.latest)) {
        Promise.resolve()
          .then(() => cancelOnDisconnect.cancel(promptId))
          .catch(() => undefined)
      }
    }
  }

  /** The server stops the stream (without a final update: the browser will reconnect). */
  stop(): void {
    if (this.ended) return
    this.ended = true
    this.subscription?.unsubscribe()
    this.sink.end()
  }

  private offer(update: ProgressUpdate): void {
    this.latest = update
    if (this.blocked) this.pending = update
    else this.send(update)
  }

  private keepAlive(): void {
    if (!this.blocked) this.write(': keepalive\n\n')
  }

  private send(update: ProgressUpdate): void {
    this.write(encodeEvent(this.nextId++, update))
  }

  private write(chunk: string): void {
    if (!this.sink.write(chunk)) this.blocked = true
  }

  private finish(): void {
    if (this.ended) return
    // The final update goes out even to a reader that is behind: one more event, then the end.
    const pending = this.pending
    this.pending = undefined
    if (pending !== undefined) this.send(pending)
    this.ended = true
    this.sink.end()
  }
}
