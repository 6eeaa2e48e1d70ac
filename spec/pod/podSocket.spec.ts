import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyPod,
  type ConnectionState,
  type PodDiagnostic,
  type PodMessage,
} from '../../src/index.js'
import { fakeSockets } from '../support/FakeWebSocket.js'

const STATUS = JSON.stringify({
  type: 'status',
  data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'c1' },
})
const HANDSHAKE = JSON.stringify({
  type: 'feature_flags',
  data: { supports_preview_metadata: true },
})

function setup(options: Record<string, unknown> = {}) {
  const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
  const { factory, sockets } = fakeSockets()
  const pod = new ComfyPod('http://user:secret@pod.test:8188/comfy', {
    clientId: 'c1',
    webSocketFactory: factory,
    scheduler,
    idleCloseMs: 100,
    connectTimeoutMs: 50,
    reconnectDelayMs: 10,
    maxReconnectAttempts: 2,
    pingIntervalMs: 40,
    random: () => 1,
    headers: { 'x-team': 'a' },
    ...options,
  })
  const states: ConnectionState[] = []
  const diagnostics: PodDiagnostic[] = []
  pod.connection$.subscribe((state) => states.push(state))
  pod.diagnostics$.subscribe((diagnostic) => diagnostics.push(diagnostic))
  return { scheduler, sockets, pod, states, diagnostics }
}

describe('ComfyPod socket', () => {
  it('opens one socket for every subscriber and sends the feature_flags handshake first', () => {
    const { scheduler, sockets, pod } = setup()
    scheduler.run(() => {
      const a: PodMessage[] = []
      const b: PodMessage[] = []
      pod.messages$.subscribe((m) => a.push(m))
      pod.messages$.subscribe((m) => b.push(m))
      expect(sockets).toHaveLength(1)
      const socket = sockets[0]!
      expect(socket.url).toBe('ws://pod.test:8188/comfy/ws?clientId=c1')
      expect(socket.headers).toMatchObject({
        'x-team': 'a',
        authorization: `Basic ${Buffer.from('user:secret').toString('base64')}`,
      })
      expect(socket.binaryType).toBe('arraybuffer')
      socket.open()
      expect(socket.sent).toEqual([HANDSHAKE])
      socket.receive(STATUS)
      expect(a.map((m) => m.type)).toEqual(['status'])
      expect(b.map((m) => m.type)).toEqual(['status'])
      pod.close()
    })
  })

  it('closes the socket idleCloseMs after the last subscriber leaves, and not before', () => {
    const { scheduler, sockets, pod, states } = setup()
    scheduler.run(({ flush }) => {
      const first = pod.messages$.subscribe()
      sockets[0]!.open()
      first.unsubscribe()
      scheduler.schedule(() => {
        expect(sockets[0]!.closedByClient).toBe(false)
        const second = pod.messages$.subscribe()
        expect(sockets).toHaveLength(1)
        second.unsubscribe()
      }, 99)
      scheduler.schedule(() => expect(sockets[0]!.closedByClient).toBe(false), 198)
      flush()
      expect(sockets[0]!.closedByClient).toBe(true)
      expect(scheduler.now()).toBe(199)
      expect(states.at(-1)).toEqual({ state: 'closed', reason: 'idle' })
    })
  })

  it('ends the messages when the pod is closed, and tells why the socket closed only once', () => {
    const { scheduler, sockets, pod, states } = setup()
    scheduler.run(() => {
      let completed = false
      pod.messages$.subscribe({ complete: () => (completed = true) })
      sockets[0]!.open()
      pod.close()
      expect(completed).toBe(true)
      expect(sockets[0]!.closedByClient).toBe(true)
      expect(states.filter((s) => s.state === 'closed').slice(1)).toEqual([
        { state: 'closed', reason: 'pod closed' },
      ])
      // A closed pod opens no socket for a late subscriber.
      pod.messages$.subscribe()
      expect(sockets).toHaveLength(1)
    })
  })

  it('says nothing of closing after the socket failed for good (default options)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    const { factory, sockets } = fakeSockets()
    // Every socket is refused as soon as it is made.
    const refused: typeof factory = (url, options) => {
      const socket = factory(url, options)
      scheduler.schedule(() => sockets.at(-1)!.fail('connect ECONNREFUSED 127.0.0.1:8188'))
      return socket
    }
    const pod = new ComfyPod('http://pod.test:8188', { webSocketFactory: refused, scheduler })
    const states: ConnectionState[] = []
    pod.connection$.subscribe((state) => states.push(state))
    scheduler.run(({ flush }) => {
      let error: unknown
      const subscription = pod.messages$.subscribe({ error: (e) => (error = e) })
      flush()
      expect(error).toBeInstanceOf(ComfyConnectionError)
      // The first attempt and the three retries of the default, then nothing more.
      expect(sockets).toHaveLength(4)
      expect(states.at(-1)?.state).toBe('failed')
      subscription.unsubscribe()
      pod.close()
      flush()
      expect(states.at(-1)?.state).toBe('failed')
    })
  })

  it('pings a socket that carried nothing for pingIntervalMs, and only then', () => {
    const { scheduler, sockets, pod } = setup()
    scheduler.run(() => {
      const subscription = pod.messages$.subscribe()
      sockets[0]!.open()
      // Frames at 30 and 60: the checks at 40 and 80 see them; the one at 120 pings.
      scheduler.schedule(() => sockets[0]!.receive(STATUS), 30)
      scheduler.schedule(() => sockets[0]!.receive(STATUS), 60)
      scheduler.schedule(() => expect(sockets[0]!.pings).toBe(0), 119)
      scheduler.schedule(() => {
        expect(sockets[0]!.pings).toBe(1)
        subscription.unsubscribe()
        pod.close()
      }, 125)
    })
  })

  describe('with the default keep-alive (ping after 1 s of silence, 2 s for the answer)', () => {
    const defaults = { pingIntervalMs: undefined, pongTimeoutMs: undefined }

    it('keeps a socket whose pod is quiet for minutes but answers the pings', () => {
      const { scheduler, sockets, pod, states } = setup(defaults)
      scheduler.run(({ flush }) => {
        pod.messages$.subscribe()
        sockets[0]!.open()
        scheduler.schedule(() => pod.close(), 300_000)
        flush()
        expect(sockets).toHaveLength(1)
        expect(states.filter((state) => state.state === 'reconnecting')).toEqual([])
        // A ping after each silent second; its pong is the sign of life the check 2 s later sees.
        expect(sockets[0]!.pings).toBe(100)
      })
    })

    it('replaces a socket that stops carrying bytes within 4 s, with reason stalled', () => {
      const { scheduler, sockets, pod, states } = setup(defaults)
      scheduler.run(({ flush }) => {
        pod.messages$.subscribe()
        sockets[0]!.open()
        scheduler.schedule(() => sockets[0]!.receive(STATUS), 999)
        // Frozen right after a frame: the worst case. The check at 1000 saw the frame, the one at
        // 2000 pings, and the answer is due at 4000.
        scheduler.schedule(() => (sockets[0]!.frozen = true), 999)
        scheduler.schedule(() => {
          expect(sockets[0]!.closedByClient).toBe(false)
          expect(states.at(-1)).toMatchObject({ state: 'open' })
        }, 3999)
        scheduler.schedule(() => {
          expect(sockets[0]!.terminated).toBe(true)
          expect(sockets[0]!.pongListenerCount).toBe(0)
          expect(states.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'stalled' })
        }, 4001)
        scheduler.schedule(() => {
          expect(sockets).toHaveLength(2)
          sockets[1]!.open()
          pod.close()
        }, 4011)
        flush()
        expect(sockets[0]!.pings).toBe(1)
      })
    })

    it('takes any frame after the ping as a sign of life, the pong or not', () => {
      const { scheduler, sockets, pod } = setup(defaults)
      scheduler.run(({ flush }) => {
        pod.messages$.subscribe({ error: () => undefined })
        sockets[0]!.open()
        sockets[0]!.frozen = true
        // The ping at 1000 is never answered, but a frame comes at 2500: still alive.
        scheduler.schedule(() => sockets[0]!.receive(STATUS), 2500)
        scheduler.schedule(() => {
          expect(sockets).toHaveLength(1)
          expect(sockets[0]!.closedByClient).toBe(false)
        }, 5999)
        scheduler.schedule(() => pod.close(), 8000)
        flush()
        // Pings at 1000 and 4000 (the check at 3000 saw the frame); the second went unanswered
        // for 2 s: replaced at 6000.
        expect(sockets[0]!.pings).toBe(2)
        expect(sockets[0]!.closedByClient).toBe(true)
      })
    })
  })

  it('reconnects with the same clientId after a drop, with backoff, and handshakes again', () => {
    const { scheduler, sockets, pod, states } = setup()
    scheduler.run(({ flush }) => {
      const received: PodMessage[] = []
      pod.messages$.subscribe((m) => received.push(m))
      sockets[0]!.open()
      sockets[0]!.drop()
      expect(states.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, delayMs: 10 })
      scheduler.schedule(() => expect(sockets).toHaveLength(1), 9)
      scheduler.schedule(() => {
        expect(sockets).toHaveLength(2)
        sockets[1]!.open()
        sockets[1]!.receive(STATUS)
        pod.close()
      }, 10)
      flush()
      expect(sockets[1]!.url).toBe(sockets[0]!.url)
      expect(sockets[1]!.sent).toEqual([HANDSHAKE])
      expect(received.map((m) => m.type)).toEqual(['status'])
      expect(states.filter((s) => s.state === 'open')).toHaveLength(2)
    })
  })

  it('gives up after maxReconnectAttempts with a ComfyConnectionError and reports each failure', () => {
    const { scheduler, sockets, pod, states, diagnostics } = setup()
    scheduler.run(({ flush }) => {
      let error: unknown
      pod.messages$.subscribe({ error: (e) => (error = e) })
      sockets[0]!.fail('connect ECONNREFUSED 127.0.0.1:8188')
      // Attempt 1 fails and waits 10 ms; attempt 2 fails and waits 20 ms; attempt 3 fails for good.
      scheduler.schedule(() => sockets[1]!.fail('Unexpected server response: 502'), 10)
      scheduler.schedule(() => sockets[2]!.fail('Unexpected server response: 502'), 31)
      flush()
      expect(sockets).toHaveLength(3)
      expect(error).toBeInstanceOf(ComfyConnectionError)
      expect(error).toMatchObject({ reason: 'http_502' })
      expect(states.map((s) => s.state)).toEqual([
        'closed',
        'connecting',
        'reconnecting',
        'connecting',
        'reconnecting',
        'connecting',
        'failed',
      ])
      expect(
        states
          .filter((s) => s.state === 'reconnecting')
          .map((s) => s.state === 'reconnecting' && s.delayMs),
      ).toEqual([10, 20])
      expect(diagnostics.filter((d) => d.kind === 'connection_issue')).toHaveLength(3)
      expect(JSON.stringify(diagnostics)).not.toContain('secret')
    })
  })

  it('starts the count of attempts over once a socket opens and delivers, not when it only opens', () => {
    const { scheduler, sockets, pod, states } = setup({ maxReconnectAttempts: 1 })
    scheduler.run(({ flush }) => {
      let error: unknown
      pod.messages$.subscribe({ error: (e) => (error = e) })
      // Three lives that each deliver and drop: each is a first failure, never the last.
      for (let life = 0; life < 3; life++) {
        scheduler.schedule(() => {
          sockets[life]!.open()
          sockets[life]!.receive(STATUS)
          sockets[life]!.drop()
        }, life * 20)
      }
      // A life that opens and drops without a frame is the second failure in a row: the last.
      scheduler.schedule(() => {
        sockets[3]!.open()
        sockets[3]!.drop()
      }, 60)
      flush()
      expect(states.filter((s) => s.state === 'reconnecting')).toHaveLength(3)
      expect(states.at(-1)?.state).toBe('failed')
      expect(error).toBeInstanceOf(ComfyConnectionError)
      expect(sockets).toHaveLength(4)
    })
  })

  it('doubles the wait from one failed reconnect to the next after a drop', () => {
    const { scheduler, sockets, pod, states } = setup({ maxReconnectAttempts: 3 })
    scheduler.run(({ flush }) => {
      pod.messages$.subscribe({ error: () => undefined })
      sockets[0]!.open()
      sockets[0]!.receive(STATUS)
      sockets[0]!.drop()
      scheduler.schedule(() => sockets[1]!.fail('connect ECONNREFUSED 127.0.0.1:8188'), 11)
      scheduler.schedule(() => sockets[2]!.fail('connect ECONNREFUSED 127.0.0.1:8188'), 32)
      scheduler.schedule(() => sockets[3]!.fail('connect ECONNREFUSED 127.0.0.1:8188'), 73)
      flush()
      const delays = states.flatMap((s) => (s.state === 'reconnecting' ? [s.delayMs] : []))
      expect(delays).toEqual([10, 20, 40])
    })
  })

  it('starts the backoff over for a new subscription after giving up', () => {
    const { scheduler, sockets, pod, states } = setup({ maxReconnectAttempts: 1 })
    scheduler.run(({ flush }) => {
      pod.messages$.subscribe({ error: () => undefined })
      sockets[0]!.fail('connect ECONNREFUSED 127.0.0.1:8188')
      scheduler.schedule(() => sockets[1]!.fail('connect ECONNREFUSED 127.0.0.1:8188'), 10)
      scheduler.schedule(() => {
        pod.messages$.subscribe({ error: () => undefined })
        sockets[2]!.fail('connect ECONNREFUSED 127.0.0.1:8188')
      }, 20)
      scheduler.schedule(() => sockets[3]!.fail('connect ECONNREFUSED 127.0.0.1:8188'), 31)
      flush()
      const delays = states.flatMap((s) => (s.state === 'reconnecting' ? [s.delayMs] : []))
      expect(delays).toEqual([10, 10])
      expect(states.filter((s) => s.state === 'failed')).toHaveLength(2)
    })
  })

  it('counts a socket that does not open within connectTimeoutMs as failed', () => {
    const { scheduler, sockets, pod, states } = setup({ maxReconnectAttempts: 0 })
    scheduler.run(({ flush }) => {
      let error: unknown
      let failedAt = -1
      pod.messages$.subscribe({
        error: (e) => {
          error = e
          failedAt = scheduler.now()
        },
      })
      flush()
      expect(failedAt).toBe(50)
      expect(error).toMatchObject({ name: 'ComfyConnectionError', reason: 'timeout' })
      expect(sockets[0]!.closedByClient).toBe(true)
      expect(states.at(-1)).toMatchObject({ state: 'failed' })
    })
  })

  it('reports a malformed frame on diagnostics$ and keeps the stream going', () => {
    const { scheduler, sockets, pod, diagnostics } = setup()
    scheduler.run(() => {
      const received: PodMessage[] = []
      pod.messages$.subscribe((m) => received.push(m))
      sockets[0]!.open()
      sockets[0]!.receive('{"type":"progress","data":{"value":"x"}}')
      sockets[0]!.receive('not json')
      sockets[0]!.receive(STATUS)
      expect(received.map((m) => m.type)).toEqual(['status'])
      expect(diagnostics.map((d) => d.kind === 'decode_issue' && d.reason)).toEqual([
        'invalid_message',
        'invalid_json',
      ])
      pod.close()
    })
  })

  it('completes messages$ and refuses new jobs once closed', () => {
    const { scheduler, sockets, pod } = setup()
    scheduler.run(() => {
      let completed = false
      pod.messages$.subscribe({ complete: () => (completed = true) })
      sockets[0]!.open()
      pod.close()
      expect(completed).toBe(true)
      expect(sockets[0]!.closedByClient).toBe(true)
      let error: unknown
      pod
        .executeWorkflow$({ '1': { class_type: 'SaveImage', inputs: {} } })
        .subscribe({ error: (e) => (error = e) })
      expect(error).toMatchObject({ name: 'ComfyConnectionError', reason: 'pod_closed' })
      expect(sockets).toHaveLength(1)
    })
  })

  it('rejects invalid options with a TypeError naming the option', () => {
    expect(() => new ComfyPod('ftp://x')).toThrow(/url must be an http\(s\) URL/)
    expect(() => new ComfyPod('http://x', { connectTimeoutMs: -1 })).toThrow(
      /connectTimeoutMs must be a number > 0, received -1/,
    )
    expect(() => new ComfyPod('http://x', { maxReconnectAttempts: 1.5 })).toThrow(
      /maxReconnectAttempts/,
    )
    expect(() => new ComfyPod('http://x', { clientId: '' })).toThrow(/clientId/)
    expect(() => new ComfyPod('http://x', { pongTimeoutMs: 0 })).toThrow(/pongTimeoutMs/)
    expect(() => new ComfyPod('http://x', { socketGraceMs: -1 })).toThrow(/socketGraceMs/)
    expect(() => new ComfyPod('not a url with a secret:pw@')).toThrow(TypeError)
  })
})
