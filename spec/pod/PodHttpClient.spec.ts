import { createServer, type IncomingMessage } from 'node:http'
import { TestScheduler } from 'rxjs/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { ComfyHttpError, ComfyPod } from '../../src/index.js'

const server = createServer()
afterEach(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

async function silentPod(
  requestTimeoutMs: number,
): Promise<{ pod: ComfyPod; held: Promise<IncomingMessage> }> {
  const held = new Promise<IncomingMessage>((resolve) => server.once('request', resolve))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { pod: new ComfyPod(`http://127.0.0.1:${port}`, { requestTimeoutMs }), held }
}

describe('REST calls of a pod', () => {
  it('time out after the default requestTimeoutMs (30 s) on the pod’s scheduler, in virtual time', async () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    let aborted = -1
    // A pod that never answers: the request ends only when its signal aborts.
    const silent: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => {
          aborted = scheduler.now()
          reject(new Error('aborted'))
        }),
      )
    const pod = new ComfyPod('http://pod.test', { fetch: silent, scheduler })
    let call: Promise<unknown> = Promise.resolve()
    scheduler.run(({ flush }) => {
      call = pod.getQueue().catch((e: unknown) => e)
      flush()
    })
    const error = await call
    expect(aborted).toBe(30_000)
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect(error).toMatchObject({ status: 0, message: expect.stringContaining('30000 ms') })
    pod.close()
  })

  it('fail with ComfyHttpError (status 0) after requestTimeoutMs, and end the request', async () => {
    const { pod, held } = await silentPod(50)
    const error = await pod.getQueue().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect(error).toMatchObject({
      status: 0,
      message: expect.stringContaining('no answer within 50 ms'),
    })
    const request = await held
    await new Promise((resolve) =>
      request.destroyed ? resolve(null) : request.once('close', resolve),
    )
    pod.close()
  })

  it('end when the caller’s signal aborts, saying so rather than blaming the pod', async () => {
    const { pod } = await silentPod(60_000)
    const controller = new AbortController()
    const call = pod.getSystemStats({ signal: controller.signal }).catch((e: unknown) => e)
    controller.abort()
    const error = await call
    expect(error).toBeInstanceOf(ComfyHttpError)
    expect((error as Error).message).not.toContain('no answer within')
    pod.close()
  })
})
