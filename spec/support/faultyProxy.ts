import { connect, createServer, type Socket } from 'node:net'

/** What the proxy does with a new WebSocket upgrade. */
export type UpgradeMode = 'pass' | 'refuse' | 'blackhole'

/**
 * A TCP proxy in front of a pod, as a load balancer or NAT would be: HTTP passes through, and
 * WebSocket connections suffer the faults a test asks for, at the TCP level — the library under
 * test sees only what a real network would show it.
 */
export interface FaultyProxy {
  /** `http://127.0.0.1:<port>`, the pod's URL through the proxy. */
  readonly url: string
  /** WebSocket connections that passed and are open now. */
  readonly openSockets: number
  /**
   * New upgrades from now on: `pass`; `refuse` (the connection is reset); `blackhole` (accepted,
   * never answered).
   */
  upgrades(mode: UpgradeMode): void
  /** The WebSocket connections open now stop forwarding anything, either way; TCP stays open. */
  freeze(): void
  /** The WebSocket connections open now are reset. */
  drop(): void
  /** Resets every connection and stops listening. */
  close(): Promise<void>
}

/** Starts a proxy on 127.0.0.1, port 0, in front of `target` (`http://host:port`). */
export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const { hostname, port } = new URL(target)
  let mode: UpgradeMode = 'pass'
  const everything = new Set<Socket>()
  const sockets = new Set<{ client: Socket; upstream: Socket }>()
  const server = createServer((client) => {
    everything.add(client)
    client.on('close', () => everything.delete(client))
    client.on('error', () => undefined)
    client.once('data', (head) => {
      const upgrade = /^upgrade: websocket/im.test(head.toString('latin1'))
      if (upgrade && mode === 'refuse') return void client.resetAndDestroy()
      if (upgrade && mode === 'blackhole') return // held open, never answered
      client.pause()
      const upstream = connect(Number(port), hostname, () => {
        upstream.write(head)
        client.pipe(upstream).pipe(client)
        client.resume()
      })
      everything.add(upstream)
      upstream.on('close', () => everything.delete(upstream))
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      if (!upgrade) return
      const pair = { client, upstream }
      sockets.add(pair)
      client.on('close', () => sockets.delete(pair))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    get openSockets() {
      return sockets.size
    },
    upgrades: (next) => void (mode = next),
    freeze: () => {
      for (const { client, upstream } of sockets) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        // Read and discard, as a NAT entry that went stale drops the packets.
        client.on('data', () => undefined)
        upstream.on('data', () => undefined)
      }
      sockets.clear()
    },
    drop: () => {
      for (const { client, upstream } of sockets) {
        client.resetAndDestroy()
        upstream.destroy()
      }
    },
    close: async () => {
      for (const socket of everything) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
