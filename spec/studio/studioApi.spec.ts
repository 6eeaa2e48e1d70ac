import { afterEach, describe, expect, it } from 'vitest'
import { startStudio, type Studio } from '../../examples/studio/startStudio.js'

// The studio's HTTP API against the embedded simulator, without a browser (the page is tested in
// Chromium by studio.spec.ts).

let studio: Studio | undefined

afterEach(async () => {
  await studio?.close()
  studio = undefined
})

/** A studio on a fast simulator, and the prompts it sent to the pod. */
async function open(): Promise<{ studio: Studio; queued: string[] }> {
  const started = await startStudio({
    simulator: { stepDurationMs: 5, previews: false },
    steps: 3,
    progressThrottleMs: 0,
    retryMs: 100,
  })
  studio = started
  const queued: string[] = []
  started.simulator!.on('request', (method, path) => {
    if (method === 'POST' && path === '/prompt') queued.push(path)
  })
  return { studio: started, queued }
}

const generate = (on: Studio, body: string) =>
  fetch(new URL('/api/image/generate', on.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })

describe('studio API', () => {
  it('answers 400 for a malformed promptId and 404 for an unknown one', async () => {
    const { studio } = await open()
    const progress = (id: string) => fetch(new URL(`/api/image/comfyui/${id}/progress`, studio.url))
    const malformed = await progress('not-a-prompt-id')
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toEqual({ error: 'malformed promptId' })
    const unknown = await progress('0b0f6f38-5bd1-4c8c-9d3e-5c1f0f6f0a11')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: 'unknown promptId' })
  })

  it('answers a generate request with the promptId whose progress it streams', async () => {
    const { studio, queued } = await open()
    const answer = await generate(studio, JSON.stringify({ prompt: 'a red fox' }))
    expect(answer.status).toBe(200)
    const { promptId } = (await answer.json()) as { promptId: string }
    const stream = await fetch(new URL(`/api/image/comfyui/${promptId}/progress`, studio.url))
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const text = await stream.text()
    expect(text).toMatch(/^retry: 100\n\n/)
    expect(text).toContain(`event: completed\ndata: {"promptId":"${promptId}","status":"completed"`)
    expect(queued).toHaveLength(1)
  })

  it('answers 400 with a message for a body that is not JSON, and queues nothing', async () => {
    const { studio, queued } = await open()
    for (const body of ['prompt=a red fox', '{"prompt": "a red fox"', '']) {
      const answer = await generate(studio, body)
      expect(answer.status).toBe(400)
      expect(await answer.json()).toEqual({ error: 'the body must be JSON: {"prompt": "…"}' })
    }
    expect(queued).toEqual([])
  })

  it('answers 400 with a message for an empty, blank or missing prompt, and queues nothing', async () => {
    const { studio, queued } = await open()
    const bodies = [{ prompt: '' }, { prompt: ' \n\t' }, {}, { prompt: 42 }, null, ['a red fox']]
    for (const body of bodies) {
      const answer = await generate(studio, JSON.stringify(body))
      expect(answer.status).toBe(400)
      expect(await answer.json()).toEqual({ error: 'prompt must be a non-empty string' })
    }
    expect(queued).toEqual([])
  })

  it('answers 413 for a body over 64 KiB, and queues nothing', async () => {
    const { studio, queued } = await open()
    const answer = await generate(studio, JSON.stringify({ prompt: 'a red fox '.repeat(7_000) }))
    expect(answer.status).toBe(413)
    expect(await answer.json()).toEqual({ error: 'the body must be at most 64 KiB' })
    expect(queued).toEqual([])
  })
})
