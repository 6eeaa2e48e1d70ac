import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'
import {
  progressUpdates$,
  ProgressStreamError,
  type EventSourceLike,
  type ProgressUpdate,
} from '../../src/browser/index.js'
import { ComfyError } from '../../src/index.js'

const P = '0b0f6f38-5bd1-4c8c-9d3e-5c1f0f6f0a11'
const processing = (progress: number): ProgressUpdate => ({
  promptId: P,
  status: 'processing',
  progress,
})

/** An EventSource the test drives: dispatches events, changes readyState like a browser's. */
class FakeEventSource implements EventSourceLike {
  static created: FakeEventSource[] = []
  readyState = 0
  closed = false
  private readonly listeners = new Map<string, Set<(event: MessageEvent) => void>>()

  constructor(
    readonly url: string,
    readonly init: { withCredentials: boolean },
  ) {
    FakeEventSource.created.push(this)
  }

  addEventListener(type: string, listener: (event: MessageEvent) => void): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set())
    this.listeners.get(type)!.add(listener)
  }

  removeEventListener(type: string, listener: (event: MessageEvent) => void): void {
    this.listeners.get(type)?.delete(listener)
  }

  close(): void {
    this.closed = true
    this.readyState = 2
  }

  get listenerCount(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0)
  }

  open(): void {
    this.readyState = 1
    this.dispatch('open')
  }

  send(event: string, data: unknown): void {
    this.dispatch(event, typeof data === 'string' ? data : JSON.stringify(data))
  }

  /** A lost connection: 0 (CONNECTING, it retries) or 2 (CLOSED, it gave up). */
  fail(readyState: 0 | 2): void {
    this.readyState = readyState
    this.dispatch('error')
  }

  private dispatch(type: string, data?: string): void {
    for (const listener of this.listeners.get(type) ?? []) {
      listener(new MessageEvent(type, data === undefined ? {} : { data }))
    }
  }
}

function subscribe(url = '/progress', options: Parameters<typeof progressUpdates$>[1] = {}) {
  FakeEventSource.created = []
  const received: ProgressUpdate[] = []
  const connection: string[] = []
  let completed = false
  let error: unknown
  const subscription = progressUpdates$(url, {
    eventSource: (href, init) => new FakeEventSource(href, init),
    onConnection: (state) => connection.push(state),
    ...options,
  }).subscribe({
    next: (update) => received.push(update),
    complete: () => (completed = true),
    error: (e: unknown) => (error = e),
  })
  const source = FakeEventSource.created[0]!
  return {
    source,
    received,
    connection,
    subscription,
    completed: () => completed,
    error: () => error,
  }
}

describe('progressUpdates$', () => {
  it('emits the updates of each status event, then completes and closes after the final one', () => {
    const { source, received, completed } = subscribe()
    source.open()
    source.send('queued', { promptId: P, status: 'queued', progress: 0 })
    source.send('processing', processing(45))
    expect(completed()).toBe(false)
    source.send('completed', { promptId: P, status: 'completed', progress: 100, images: [] })
    expect(received.map((update) => update.status)).toEqual(['queued', 'processing', 'completed'])
    expect(completed()).toBe(true)
    expect(source.closed).toBe(true)
    expect(source.listenerCount).toBe(0)
  })

  it('completes after a failed update, which carries the message to show', () => {
    const { source, received, completed, error } = subscribe()
    source.send('failed', { promptId: P, status: 'failed', progress: 30, message: 'Try again.' })
    expect(received).toEqual([
      { promptId: P, status: 'failed', progress: 30, message: 'Try again.' },
    ])
    expect(completed()).toBe(true)
    expect(error()).toBeUndefined()
  })

  it('reports reconnections and goes on while the EventSource reconnects by itself', () => {
    const { source, received, connection, error } = subscribe()
    source.open()
    source.send('processing', processing(20))
    source.fail(0)
    source.open()
    source.send('processing', processing(60))
    expect(connection).toEqual(['open', 'reconnecting', 'open'])
    expect(received.map((update) => update.progress)).toEqual([20, 60])
    expect(error()).toBeUndefined()
  })

  it('errors with ProgressStreamError when the server refuses the stream for good', () => {
    const { source, error } = subscribe('/api/image/comfyui/nope/progress')
    source.fail(2)
    expect(error()).toBeInstanceOf(ProgressStreamError)
    expect(error()).toBeInstanceOf(ComfyError)
    expect((error() as ProgressStreamError).url).toBe('/api/image/comfyui/nope/progress')
    expect(source.listenerCount).toBe(0)
  })

  it('passes a loading activity on, and leaves out an activity it does not know', () => {
    const { source, received } = subscribe()
    source.send('processing', { ...processing(5), activity: 'loading' })
    source.send('processing', { ...processing(6), activity: 'dreaming' })
    expect(received).toEqual([{ ...processing(5), activity: 'loading' }, processing(6)])
  })

  it('skips malformed events', () => {
    const { source, received } = subscribe()
    source.send('processing', 'not json')
    source.send('processing', { promptId: P, status: 'sleeping', progress: 1 })
    source.send('processing', { promptId: P, status: 'processing' })
    source.send('processing', 'null')
    source.send('processing', processing(5))
    expect(received).toEqual([processing(5)])
  })

  it('closes the EventSource and removes its listeners when unsubscribed', () => {
    const { source, subscription } = subscribe(new URL('http://studio/p').href, {
      withCredentials: true,
    })
    expect(source.url).toBe('http://studio/p')
    expect(source.init).toEqual({ withCredentials: true })
    subscription.unsubscribe()
    expect(source.closed).toBe(true)
    expect(source.listenerCount).toBe(0)
  })

  it('opens nothing until subscribed', () => {
    FakeEventSource.created = []
    progressUpdates$('/progress', { eventSource: (href, init) => new FakeEventSource(href, init) })
    expect(FakeEventSource.created).toHaveLength(0)
  })

  it('bundles for browsers without any Node module', async () => {
    const entry = fileURLToPath(new URL('../../src/browser/index.ts', import.meta.url))
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      metafile: true,
      logLevel: 'silent',
    })
    const sources = Object.keys(result.metafile.inputs).filter((input) => input.startsWith('src/'))
    expect(sources.sort()).toEqual([
      'src/browser/ProgressStreamError.ts',
      'src/browser/index.ts',
      'src/browser/progressUpdates.ts',
      'src/errors/ComfyError.ts',
      'src/internal/optionChecks.ts',
      'src/progress/parseProgressUpdate.ts',
    ])
  })
})
