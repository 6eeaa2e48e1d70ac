import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { ComfyPod, type ConnectionState, type PodMessage } from '../../src/index.js'

// The frames of a `ws` socket reach the pod from ws's own `message` event (no MessageEvent, no
// rxjs-websockets Subject): over a real socket on 127.0.0.1, with the pod's default options.

const status = (queueRemaining: number): string =>
  JSON.stringify({
    type: 'status',
    data: { status: { exec_info: { queue_remaining: queueRemaining } } },
  })

let server: WebSocketServer | undefined
let pod: ComfyPod | undefined

afterEach(async () => {
  pod?.close()
  server?.close()
  if (server !== undefined) await once(server, 'close')
  server = pod = undefined
})

async function listen(onConnection: (socket: WebSocket, life: number) => void) {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  let lives = 0
  server.on('connection', (socket) => onConnection(socket, lives++))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('podMessages$ over a ws socket', () => {
  it('decodes text and binary frames, and hears nothing of a socket it left', async () => {
    const preview = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]), Buffer.from('png')])
    const url = await listen((socket) => {
      socket.send(status(1))
      socket.send(preview)
      socket.send('{"type":"executing","data":{"node":"3","prompt_id":"p"}}')
    })
    pod = new ComfyPod(url)
    const received: PodMessage[] = []
    const subscription = pod.messages$.subscribe((message) => received.push(message))
    while (received.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(received.map((message) => message.type)).toEqual([
      'status',
      'preview_image',
      'executing',
    ])
    expect(received[1]).toMatchObject({ mime: 'image/png' })
    expect(Buffer.from((received[1] as { image: Uint8Array }).image).toString()).toBe('png')
    const [client] = [...server!.clients]
    subscription.unsubscribe()
    client!.send(status(2))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(received).toHaveLength(3)
  })

  it('starts the count of attempts over after each connection that delivered', async () => {
    // Five connections in a row that each deliver a frame and are closed by the pod: more than
    // the default three attempts, none of them the last. The sixth stays.
    const url = await listen((socket, life) => {
      socket.send(status(0))
      if (life < 5) socket.close()
    })
    pod = new ComfyPod(url)
    const states: ConnectionState[] = []
    pod.connection$.subscribe((state) => states.push(state))
    let failed: unknown
    pod.messages$.subscribe({ error: (error) => (failed = error) })
    while (states.filter((s) => s.state === 'open').length < 6 && failed === undefined)
      await new Promise((resolve) => setTimeout(resolve, 20))
    expect(failed).toBeUndefined()
    expect(states.filter((s) => s.state === 'reconnecting')).toHaveLength(5)
    expect(states.some((s) => s.state === 'failed')).toBe(false)
  }, 15_000)
})
