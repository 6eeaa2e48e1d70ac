import { createServer, type IncomingMessage } from 'node:http'
import { asyncScheduler, lastValueFrom } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { ComfyHttpError, ComfyPod } from '../../src/index.js'
import { checkPodHealth } from '../../src/runner/checkPodHealth.js'

const server = createServer()
afterEach(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('checkPodHealth', () => {
  it('fails after timeoutMs and aborts its request instead of leaving it to requestTimeoutMs', async () => {
    // A pod that takes the request and never answers.
    const held = new Promise<IncomingMessage>((resolve) => server.once('request', resolve))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    const pod = new ComfyPod(`http://127.0.0.1:${port}`, { requestTimeoutMs: 60_000 })

    const error = await lastValueFrom(checkPodHealth(pod, 50, asyncScheduler)).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect(error).toMatchObject({ status: 0 })
    const request = await held
    await new Promise((resolve) =>
      request.destroyed ? resolve(null) : request.once('close', resolve),
    )
    expect(request.destroyed).toBe(true)
    pod.close()
  })
})
