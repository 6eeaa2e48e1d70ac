import { BehaviorSubject } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import type { ConnectionState } from '../../src/index.js'
import type { AnalyticsEvent } from '../../src/analytics/AnalyticsEvent.js'
import { reportPod } from '../../src/analytics/reportPod.js'

const states: Record<string, ConnectionState> = {
  n: { state: 'closed', reason: 'not opened yet' },
  c: { state: 'connecting', attempt: 1 },
  d: { state: 'connecting', attempt: 2 },
  o: { state: 'open', connectTimeMs: 42 },
  r: { state: 'reconnecting', attempt: 1, delayMs: 10, reason: 'refused' },
  s: { state: 'reconnecting', attempt: 1, delayMs: 10, reason: 'closed' },
  f: {
    state: 'failed',
    reason: 'ws://bob:pw@127.0.0.1:1/ws?token=s3cr3t&clientId=x failed: connect ECONNREFUSED',
    code: 'refused',
  },
  i: { state: 'closed', reason: 'idle' },
}

function record(marbles: string) {
  const captured: { at: number; event: AnalyticsEvent }[] = []
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, flush }) => {
    const pod = {
      clientId: 'client-1',
      url: 'http://***@pod.example:8188/?token=***',
      connection$: hot(marbles, states),
    }
    const subscription = reportPod(
      pod,
      { capture: (event) => captured.push({ at: scheduler.now(), event }) },
      { scheduler },
    )
    flush()
    subscription.unsubscribe()
  })
  return captured.map(({ at, event }) => [at, event.event, event.properties])
}

describe('reportPod', () => {
  it('reports each open with its connect time and each loss with the open duration in s', () => {
    expect(record('^n-c-o 96ms s-c-o 9ms i')).toEqual([
      [
        5,
        'comfyui_websocket_connected',
        {
          clientId: 'client-1',
          serverUrl: 'http://***@pod.example:8188/?token=***',
          connectionTime: 42,
        },
      ],
      [
        102,
        'comfyui_websocket_disconnected',
        { clientId: 'client-1', reason: 'closed', duration: 0.097 },
      ],
      [106, 'comfyui_websocket_connected', expect.objectContaining({ connectionTime: 42 })],
      [
        116,
        'comfyui_websocket_disconnected',
        { clientId: 'client-1', reason: 'idle', duration: 0.01 },
      ],
    ])
  })

  it('reports every attempt that did not open, the last with its reason without credentials', () => {
    expect(record('^n-c-r-d-f')).toEqual([
      [
        5,
        'comfyui_websocket_connection_failed',
        {
          clientId: 'client-1',
          serverUrl: 'http://***@pod.example:8188/?token=***',
          reason: 'refused',
          attempt: 1,
        },
      ],
      [
        9,
        'comfyui_websocket_connection_failed',
        {
          clientId: 'client-1',
          serverUrl: 'http://***@pod.example:8188/?token=***',
          reason: 'ws://***@127.0.0.1:1/ws?token=***&clientId=x failed: connect ECONNREFUSED',
          attempt: 2,
        },
      ],
    ])
  })

  it('reports a socket that gives up after it was open as disconnected, not as a failed attempt', () => {
    expect(record('^c-o-f').map(([, name]) => name)).toEqual([
      'comfyui_websocket_connected',
      'comfyui_websocket_disconnected',
    ])
  })

  it('reports nothing for a connection attempt abandoned because nobody listens any more', () => {
    expect(record('^c-i')).toEqual([])
  })

  it('stops when unsubscribed and when the pod is closed', () => {
    const connection = new BehaviorSubject<ConnectionState>({ state: 'closed', reason: 'x' })
    const pod = { clientId: 'c', url: 'http://pod/', connection$: connection.asObservable() }
    const subscription = reportPod(pod, { capture: () => undefined })
    expect(connection.observed).toBe(true)
    subscription.unsubscribe()
    expect(connection.observed).toBe(false)
    const ended = reportPod(pod, { capture: () => undefined })
    connection.complete()
    expect(ended.closed).toBe(true)
  })

  it('keeps reporting when the sink throws', () => {
    const connection = new BehaviorSubject<ConnectionState>({ state: 'connecting', attempt: 1 })
    const pod = { clientId: 'c', url: 'http://pod/', connection$: connection.asObservable() }
    let calls = 0
    const subscription = reportPod(pod, {
      capture: () => {
        calls++
        throw new Error('down')
      },
    })
    connection.next({ state: 'open', connectTimeMs: 1 })
    connection.next({ state: 'closed', reason: 'idle' })
    expect(calls).toBe(2)
    expect(subscription.closed).toBe(false)
    subscription.unsubscribe()
  })
})
