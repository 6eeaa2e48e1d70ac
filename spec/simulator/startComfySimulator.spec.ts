import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { SimulatedNodeError, startComfySimulator } from '../../src/simulator/index.js'
import type { ComfySimulator } from '../../src/simulator/index.js'
import {
  expectConnectFailure,
  openSocket,
  queuePrompt,
  request,
  tiny,
  txt2img,
  useSimulators,
} from './simulatorTestKit.js'
import type { Frame, Message } from './simulatorTestKit.js'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const { start, connect, track } = useSimulators()

const types = (messages: readonly Message[]) => messages.map((m) => m.type)
const isProgress = (promptId: string) => (m: Message) =>
  m.type === 'progress' && m.data['prompt_id'] === promptId
const binaryType = (f: Frame) => (f.kind === 'binary' ? f.data.readUInt32BE(0) : undefined)

describe('startComfySimulator', () => {
  describe('a txt2img prompt', () => {
    it('runs in ComfyUI order with progress per KSampler step and ends with executing null', async () => {
      const sim = await start({ previews: false })
      const socket = await connect(sim, 'client-a')
      const promptId = await queuePrompt(sim, { prompt: txt2img(3), client_id: 'client-a' })
      await socket.done(promptId)
      const executing = socket.messages
        .filter((m) => m.type === 'executing')
        .map((m) => m.data['node'])
      // ComfyUI's DFS + "UX friendly" pick: the loader (two hops from SaveImage) first, then the
      // pending nodes in DFS order, which pops a node's inputs last-first.
      expect(executing).toEqual(['4', '5', '7', '6', '3', '8', '9', null])
      const progress = socket.messages.filter((m) => m.type === 'progress').map((m) => m.data)
      expect(progress).toEqual(
        [1, 2, 3].map((value) => ({ value, max: 3, prompt_id: promptId, node: '3' })),
      )
      const tail = types(socket.messages).slice(-5)
      expect(tail).toEqual([
        'executed',
        'progress_state',
        'execution_success',
        'status',
        'executing',
      ])
    })

    it('takes a client-supplied prompt_id and answers with number and node_errors', async () => {
      const sim = await start()
      const res = await request(sim, 'POST', '/prompt', { prompt: tiny(), prompt_id: 'my-id' })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ prompt_id: 'my-id', number: 0, node_errors: {} })
      const second = await request(sim, 'POST', '/api/prompt', { prompt: tiny('b'), number: 42 })
      expect(second.body).toMatchObject({ number: 42 })
    })

    it('re-runs nothing when the same prompt is queued again (everything cached)', async () => {
      const sim = await start()
      const socket = await connect(sim, 'c')
      const first = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'c' })
      await socket.done(first)
      const from = socket.messages.length
      const second = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'c' })
      await socket.done(second)
      const run = socket.messages.slice(from)
      expect(types(run)).toEqual([
        'status',
        'status',
        'execution_start',
        'execution_cached',
        'executed',
        'progress_state',
        'execution_success',
        'status',
        'executing',
      ])
      expect(run[3]?.data['nodes']).toEqual(['3', '4', '5', '6', '7', '8', '9'])
    })

    it('executes every node again when the cache is off', async () => {
      const sim = await start({ cache: false, previews: false })
      const socket = await connect(sim, 'c')
      await socket.done(await queuePrompt(sim, { prompt: tiny(), client_id: 'c' }))
      const from = socket.messages.length
      await socket.done(await queuePrompt(sim, { prompt: tiny(), client_id: 'c' }))
      const run = socket.messages.slice(from)
      expect(run.find((m) => m.type === 'execution_cached')?.data['nodes']).toEqual([])
      expect(run.filter((m) => m.type === 'executing' && m.data['node'] !== null)).toHaveLength(2)
    })

    it('runs a front prompt before earlier pending ones', async () => {
      const sim = await start({ paused: true })
      const a = await queuePrompt(sim, { prompt: tiny('a') })
      const b = await queuePrompt(sim, { prompt: tiny('b') })
      const c = await queuePrompt(sim, { prompt: tiny('c'), front: true })
      expect(sim.pendingPromptIds).toEqual([c, a, b])
      const order: string[] = []
      sim.on('promptStarted', (id) => order.push(id))
      const finished = new Promise<void>((resolve) =>
        sim.on('promptFinished', (id) => id === b && resolve()),
      )
      sim.resume()
      await finished
      expect(order).toEqual([c, a, b])
    })

    it('runs only nodes upstream of the partial_execution_targets', async () => {
      const sim = await start()
      const socket = await connect(sim, 'c')
      const prompt = {
        ...tiny('kept'),
        '3': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 5 } },
        '4': { class_type: 'PreviewImage', inputs: { images: ['3', 0] } },
      }
      const id = await queuePrompt(sim, {
        prompt,
        client_id: 'c',
        partial_execution_targets: ['4'],
      })
      await socket.done(id)
      const ran = socket.messages.filter((m) => m.type === 'executing' && m.data['node'] !== null)
      expect(ran.map((m) => m.data['node'])).toEqual(['3', '4'])
      const history = (await request(sim, 'GET', `/history/${id}`)).body as Record<
        string,
        { outputs: object }
      >
      expect(history[id]?.outputs).toEqual({
        '4': {
          images: [
            {
              filename: expect.stringMatching(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/),
              subfolder: '',
              type: 'temp',
            },
          ],
        },
      })
    })

    it('queues a prompt with a failing output and reports it in node_errors of the 200', async () => {
      const sim = await start()
      // Held in the queue, so that its item can be read there.
      sim.pause()
      const prompt = {
        ...tiny(),
        '3': {
          class_type: 'EmptyImage',
          inputs: { width: 99999, height: 8, batch_size: 1, color: 0 },
        },
        '4': { class_type: 'PreviewImage', inputs: { images: ['3', 0] } },
      }
      const res = await request(sim, 'POST', '/prompt', { prompt })
      expect(res.status).toBe(200)
      expect((res.body as { node_errors: unknown }).node_errors).toEqual({
        '3': {
          errors: [
            {
              type: 'value_bigger_than_max',
              message: 'Value 99999 bigger than max of 16384',
              details: 'width',
              extra_info: {
                input_name: 'width',
                input_config: ['INT', { default: 512, min: 1, max: 16384, step: 1 }],
                received_value: 99999,
              },
            },
          ],
          dependent_outputs: ['4'],
          class_type: 'EmptyImage',
        },
      })
      const queue = (await request(sim, 'GET', '/queue')).body as {
        queue_running: unknown[][]
        queue_pending: unknown[][]
      }
      expect(queue.queue_pending[0]?.[4]).toEqual(['2'])
    })

    it('answers 500 to a body that is not JSON', async () => {
      const sim = await start()
      const res = await request(sim, 'POST', '/prompt', '{not json')
      expect(res.status).toBe(500)
    })
  })

  describe('WebSocket sessions', () => {
    it('sends the on-connect status with the sid only to the connecting socket', async () => {
      const sim = await start()
      const a = await connect(sim, 'a')
      const b = await connect(sim)
      const bStatus = b.messages[0]
      expect(bStatus?.type).toBe('status')
      expect(bStatus?.data['sid']).toMatch(/^[0-9a-f]{32}$/)
      expect(a.messages).toEqual([
        { type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'a' } },
      ])
      expect(sim.clientIds).toEqual(['a', bStatus?.data['sid']])
      expect(sim.openSockets).toBe(2)
    })

    it('routes per-prompt messages to the submitter only; others see the status broadcasts', async () => {
      const sim = await start()
      const a = await connect(sim, 'a')
      const b = await connect(sim, 'b')
      const id = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'a' })
      await a.done(id)
      await b.waitFor(
        (m) => m.type === 'status' && b.messages.filter((x) => x.type === 'status').length === 4,
      )
      expect(types(b.messages)).toEqual(['status', 'status', 'status', 'status'])
      expect(b.binaries).toHaveLength(0)
      expect(types(a.messages)).toContain('execution_start')
    })

    it('broadcasts progress, progress_state and type-1 previews of a prompt without client_id, and nothing else', async () => {
      const sim = await start()
      const a = await connect(sim, 'a')
      await queuePrompt(sim, { prompt: txt2img(2) })
      await a.waitFor(
        (m) => m.type === 'status' && a.messages.filter((x) => x.type === 'status').length === 4,
      )
      expect([...new Set(types(a.messages))].sort()).toEqual([
        'progress',
        'progress_state',
        'status',
      ])
      expect(a.binaries.map((f) => f.readUInt32BE(0))).toEqual([1, 1])
    })

    it('replies to a feature_flags first frame with the server flags', async () => {
      const sim = await start({ maxUploadSize: 1234 })
      const socket = await connect(sim, 'f', { supports_preview_metadata: true })
      const reply = socket.messages.find((m) => m.type === 'feature_flags')
      expect(reply?.data).toEqual({ supports_preview_metadata: true, max_upload_size: 1234 })
      expect((await request(sim, 'GET', '/features')).body).toEqual(reply?.data)
    })

    it('ignores a feature_flags frame that is not the first text frame', async () => {
      const sim = await start()
      const socket = await connect(sim, 'f')
      socket.send({ type: 'hello', data: {} })
      socket.send({ type: 'feature_flags', data: { supports_preview_metadata: true } })
      const id = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'f' })
      await socket.done(id)
      expect(types(socket.messages)).not.toContain('feature_flags')
      expect(socket.binaries.map((b) => b.readUInt32BE(0))).toEqual([1, 1]) // flags not stored
    })

    it('keeps negotiation open after a first text frame that is not JSON', async () => {
      const sim = await start()
      const socket = await connect(sim, 'f')
      socket.ws.send('not json')
      socket.send({ type: 'feature_flags', data: { supports_preview_metadata: true } })
      const reply = await socket.waitFor((m) => m.type === 'feature_flags')
      expect(reply.data['supports_preview_metadata']).toBe(true)
    })

    it('sends type-4 previews with metadata to a client that advertised supports_preview_metadata', async () => {
      const sim = await start()
      const socket = await connect(sim, 'meta', { supports_preview_metadata: true })
      const id = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'meta' })
      await socket.done(id)
      expect(socket.binaries.map((b) => b.readUInt32BE(0))).toEqual([4, 4])
      const frame = socket.binaries[0] as Buffer
      const length = frame.readUInt32BE(4)
      expect(JSON.parse(frame.subarray(8, 8 + length).toString())).toEqual({
        node_id: '3',
        prompt_id: id,
        display_node_id: '3',
        parent_node_id: null,
        real_node_id: '3',
        image_type: 'image/png',
      })
      expect(frame.subarray(8 + length, 16 + length)).toEqual(PNG_SIGNATURE)
      // progress_state, then the preview, then progress (§3.1)
      const i = socket.frames.findIndex((f) => binaryType(f) === 4)
      expect(socket.frames[i - 1]).toMatchObject({
        kind: 'text',
        message: { type: 'progress_state' },
      })
      expect(socket.frames[i + 1]).toMatchObject({ kind: 'text', message: { type: 'progress' } })
    })

    it('sends type-1 PNG previews after progress to a client without the flag', async () => {
      const sim = await start()
      const socket = await connect(sim, 'legacy')
      const id = await queuePrompt(sim, { prompt: txt2img(2), client_id: 'legacy' })
      await socket.done(id)
      expect(socket.binaries.map((b) => b.readUInt32BE(0))).toEqual([1, 1])
      const frame = socket.binaries[0] as Buffer
      expect(frame.readUInt32BE(4)).toBe(2)
      expect(frame.subarray(8, 16)).toEqual(PNG_SIGNATURE)
      const i = socket.frames.findIndex((f) => binaryType(f) === 1)
      expect(socket.frames[i - 1]).toMatchObject({ kind: 'text', message: { type: 'progress' } })
    })

    it('sends no previews when previews are off', async () => {
      const sim = await start({ previews: false })
      const socket = await connect(sim, 'p')
      await socket.done(await queuePrompt(sim, { prompt: txt2img(2), client_id: 'p' }))
      expect(socket.binaries).toHaveLength(0)
    })

    it('replays executing {node} without prompt_id to a socket that reconnects mid-node', async () => {
      const sim = await start({ stepDurationMs: 20 })
      const first = await connect(sim, 'r')
      const id = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'r' })
      await first.waitFor(isProgress(id))
      await first.close()
      const again = await connect(sim, 'r')
      expect(again.messages.slice(0, 2)).toEqual([
        { type: 'status', data: { status: { exec_info: { queue_remaining: 1 } }, sid: 'r' } },
        { type: 'executing', data: { node: '3' } },
      ])
      await request(sim, 'POST', '/interrupt', { prompt_id: id })
      await again.done(id)
    })

    it('registers a newer socket with the same clientId in place of the older one', async () => {
      const sim = await start()
      const old = await connect(sim, 'same')
      const newer = await connect(sim, 'same')
      const id = await queuePrompt(sim, { prompt: tiny(), client_id: 'same' })
      await newer.done(id)
      expect(types(old.messages)).toEqual(['status']) // only its own on-connect status
      expect(old.closed).toBe(false)
    })

    it('de-registers the newer socket when the older one with the same clientId closes (§1.2)', async () => {
      const sim = await start()
      const old = await connect(sim, 'same')
      const newer = await connect(sim, 'same')
      const gone = once(sim, 'disconnection')
      await old.close()
      await gone
      expect(sim.clientIds).toEqual([])
      expect(newer.closed).toBe(false)
    })

    it('keeps running when a client vanishes mid-prompt', async () => {
      const sim = await start()
      const socket = await connect(sim, 'gone')
      const finished = once(sim, 'promptFinished')
      const id = await queuePrompt(sim, { prompt: txt2img(20), client_id: 'gone' })
      await socket.waitFor(isProgress(id))
      socket.ws.terminate()
      expect(await finished).toEqual([id, 'success'])
    })

    it('serves the socket at /api/ws too', async () => {
      const sim = await start()
      const socket = track(
        await openSocket(`${sim.url.replace('http', 'ws')}/api/ws`, { clientId: 'api' }),
      )
      expect(socket.messages[0]?.data['sid']).toBe('api')
    })

    it("answers a client's ping with a pong (aiohttp's autoping), for a keepalive", async () => {
      const sim = await start()
      const socket = await connect(sim, 'ping')
      const pong = once(socket.ws, 'pong')
      socket.ws.ping(Buffer.from('are you there'))
      const [data] = (await pong) as [Buffer]
      expect(data.toString()).toBe('are you there')
    })
  })

  describe.each(['0.3.64', '0.33'] as const)('IS_CHANGED on %s', (version) => {
    /** The prompt's execution_cached nodes and the nodes it executed, prompt after prompt. */
    async function runs(sim: ComfySimulator, prompts: readonly Record<string, unknown>[]) {
      const socket = await connect(sim, 'c')
      const out: { cached: unknown; executed: unknown[] }[] = []
      for (const prompt of prompts) {
        const from = socket.messages.length
        await socket.done(await queuePrompt(sim, { prompt, client_id: 'c' }))
        const run = socket.messages.slice(from)
        out.push({
          cached: run.find((m) => m.type === 'execution_cached')?.data['nodes'],
          executed: run
            .filter((m) => m.type === 'executing' && m.data['node'] !== null)
            .map((m) => m.data['node']),
        })
      }
      return out
    }

    /** An image from node type `source`, inverted, then saved. */
    const chain = (source: string) => ({
      '1': { class_type: source, inputs: { tag: 'x' } },
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'chain' } },
    })
    const source = (isChanged: () => unknown) => ({
      input: { required: { tag: ['STRING', {}] as const } },
      output: ['IMAGE'],
      isChanged,
      execute: () => ({
        outputs: [{ type: 'IMAGE', width: 8, height: 8, batchSize: 1, color: 0 }],
      }),
    })

    it('runs SaveImageWebsocket again for an identical prompt (its IS_CHANGED is the time)', async () => {
      const sim = await start({ version })
      const prompt = {
        '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
        '2': { class_type: 'SaveImageWebsocket', inputs: { images: ['1', 0] } },
      }
      expect(await runs(sim, [prompt, prompt])).toEqual([
        { cached: [], executed: ['1', '2'] },
        { cached: ['1'], executed: ['2'] },
      ])
    })

    it('never serves a node whose isChanged is NaN from cache, nor anything downstream of it', async () => {
      const sim = await start({ version, nodeTypes: { Clock: source(() => Number.NaN) } })
      expect(await runs(sim, [chain('Clock'), chain('Clock')])).toEqual([
        { cached: [], executed: ['1', '2', '3'] },
        { cached: [], executed: ['1', '2', '3'] },
      ])
    })

    it('counts an isChanged that throws as changed, as ComfyUI does', async () => {
      const sim = await start({
        version,
        nodeTypes: {
          Flaky: source(() => {
            throw new Error('no file')
          }),
        },
      })
      const [, second] = await runs(sim, [chain('Flaky'), chain('Flaky')])
      expect(second).toEqual({ cached: [], executed: ['1', '2', '3'] })
    })

    it('serves a node from cache while its isChanged value stays the same, once per prompt', async () => {
      let value = 'a'
      let calls = 0
      const sim = await start({
        version,
        nodeTypes: {
          File: source(() => {
            calls++
            return value
          }),
        },
      })
      const [, same] = await runs(sim, [chain('File'), chain('File')])
      expect(same).toEqual({ cached: ['1', '2', '3'], executed: [] })
      expect(calls).toBe(2)
      value = 'b'
      const [changed] = await runs(sim, [chain('File')])
      expect(changed).toEqual({ cached: [], executed: ['1', '2', '3'] })
    })
  })

  describe('interrupt', () => {
    it('interrupts the running prompt by prompt_id and records it in history', async () => {
      const sim = await start({ stepDurationMs: 20 })
      const socket = await connect(sim, 'i')
      const id = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'i' })
      await socket.waitFor(isProgress(id))
      expect((await request(sim, 'POST', '/interrupt', { prompt_id: id })).status).toBe(200)
      await socket.done(id)
      const interrupted = socket.messages.find((m) => m.type === 'execution_interrupted')
      expect(interrupted?.data).toEqual({
        prompt_id: id,
        node_id: '3',
        node_type: 'KSampler',
        executed: ['4', '5', '7', '6'],
        timestamp: expect.any(Number),
      })
      expect(types(socket.messages).slice(-3)).toEqual([
        'execution_interrupted',
        'status',
        'executing',
      ])
      const entry = (
        (await request(sim, 'GET', `/history/${id}`)).body as Record<string, { status: object }>
      )[id]
      expect(entry?.status).toEqual({
        status_str: 'error',
        completed: false,
        messages: [
          ['execution_start', expect.anything()],
          ['execution_cached', expect.anything()],
          ['execution_interrupted', interrupted?.data],
        ],
      })
    })

    it('does nothing when the prompt_id names a pending prompt', async () => {
      const sim = await start({ stepDurationMs: 20 })
      const socket = await connect(sim, 'i')
      const running = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'i' })
      const pending = await queuePrompt(sim, { prompt: tiny(), client_id: 'i' })
      await socket.waitFor(isProgress(running))
      await request(sim, 'POST', '/interrupt', { prompt_id: pending })
      const ticks = socket.messages.filter(isProgress(running)).length
      // The running prompt keeps ticking: the interrupt flag was not set.
      await socket.waitFor(
        (m) =>
          isProgress(running)(m) && socket.messages.filter(isProgress(running)).length > ticks + 1,
      )
      await request(sim, 'POST', '/interrupt', { prompt_id: running })
      await socket.done(pending)
      const ends = socket.messages.filter((m) =>
        ['execution_interrupted', 'execution_success'].includes(m.type),
      )
      expect(ends.map((m) => [m.type, m.data['prompt_id']])).toEqual([
        ['execution_interrupted', running],
        ['execution_success', pending],
      ])
    })

    it('interrupts whatever runs when no prompt_id is given, broadcasting it for a prompt without client_id', async () => {
      const sim = await start({ stepDurationMs: 20 })
      const watcher = await connect(sim, 'w')
      await queuePrompt(sim, { prompt: txt2img(1000) })
      await watcher.waitFor((m) => m.type === 'progress')
      await request(sim, 'POST', '/api/interrupt')
      const interrupted = await watcher.waitFor((m) => m.type === 'execution_interrupted')
      expect(interrupted.data['node_type']).toBe('KSampler')
    })
  })

  describe('queue and history', () => {
    it('deletes and clears pending prompts, broadcasting status each time', async () => {
      const sim = await start({ paused: true })
      const socket = await connect(sim, 'q')
      const ids = [
        await queuePrompt(sim, { prompt: tiny('a') }),
        await queuePrompt(sim, { prompt: tiny('b') }),
        await queuePrompt(sim, { prompt: tiny('c') }),
      ]
      const queue = (await request(sim, 'GET', '/queue')).body as {
        queue_running: unknown[]
        queue_pending: unknown[][]
      }
      expect(queue.queue_running).toEqual([])
      expect(queue.queue_pending.map((item) => item[1]).sort()).toEqual([...ids].sort())
      expect(queue.queue_pending[0]).toEqual([0, ids[0], tiny('a'), {}, ['2']])
      await request(sim, 'POST', '/queue', { delete: [ids[1], 'unknown'] })
      expect(sim.pendingPromptIds).toEqual([ids[0], ids[2]])
      await request(sim, 'POST', '/queue', { clear: true })
      expect(sim.pendingPromptIds).toEqual([])
      const remaining = await socket.waitFor(
        (m) =>
          m.type === 'status' &&
          (m.data['status'] as { exec_info: { queue_remaining: number } }).exec_info
            .queue_remaining === 0 &&
          socket.messages.filter((x) => x.type === 'status').length === 6,
      )
      expect(remaining).toBeDefined()
      expect(
        socket.messages.map(
          (m) =>
            (m.data['status'] as { exec_info: { queue_remaining: number } }).exec_info
              .queue_remaining,
        ),
      ).toEqual([0, 1, 2, 3, 2, 0])
      expect((await request(sim, 'GET', '/prompt')).body).toEqual({
        exec_info: { queue_remaining: 0 },
      })
      expect((await request(sim, 'GET', '/history')).body).toEqual({})
    })

    it('answers {} for history of a pending prompt, then the entry once it finished', async () => {
      const sim = await start({ paused: true })
      const id = await queuePrompt(sim, { prompt: tiny() })
      expect((await request(sim, 'GET', `/history/${id}`)).body).toEqual({})
      const finished = once(sim, 'promptFinished')
      sim.resume()
      expect(await finished).toEqual([id, 'success'])
      const entry = ((await request(sim, 'GET', `/history/${id}`)).body as Record<string, object>)[
        id
      ]
      expect(entry).toEqual({
        prompt: [0, id, tiny(), {}, ['2']],
        outputs: {
          '2': { images: [{ filename: 'tiny_00001_.png', subfolder: '', type: 'output' }] },
        },
        status: { status_str: 'success', completed: true, messages: expect.any(Array) },
        meta: { '2': { node_id: '2', display_node: '2', parent_node: null, real_node_id: '2' } },
      })
    })

    it('pages history oldest first with max_items and offset, and deletes entries', async () => {
      const sim = await start()
      const ids: string[] = []
      for (const prefix of ['a', 'b', 'c']) {
        const finished = once(sim, 'promptFinished')
        ids.push(await queuePrompt(sim, { prompt: tiny(prefix) }))
        await finished
      }
      const keys = async (query: string) =>
        Object.keys((await request(sim, 'GET', `/history${query}`)).body as object)
      expect(await keys('')).toEqual(ids)
      expect(await keys('?max_items=2')).toEqual(ids.slice(1))
      expect(await keys('?offset=1&max_items=1')).toEqual([ids[1]])
      expect((await request(sim, 'GET', '/history?max_items=x')).status).toBe(500)
      await request(sim, 'POST', '/history', { delete: [ids[0]] })
      expect(await keys('')).toEqual(ids.slice(1))
      await request(sim, 'POST', '/api/history', { clear: true })
      expect(await keys('')).toEqual([])
    })

    it('builds up a queue while paused and runs it in order on resume', async () => {
      const sim = await start()
      const socket = await connect(sim, 'p')
      sim.pause()
      const a = await queuePrompt(sim, { prompt: tiny('a'), client_id: 'p' })
      const b = await queuePrompt(sim, { prompt: tiny('b'), client_id: 'p' })
      expect(sim.queueRemaining).toBe(2)
      expect(sim.runningPromptId).toBeUndefined()
      sim.resume()
      await socket.done(b)
      const starts = socket.messages
        .filter((m) => m.type === 'execution_start')
        .map((m) => m.data['prompt_id'])
      expect(starts).toEqual([a, b])
      expect(sim.historyPromptIds).toEqual([a, b])
    })
  })

  describe('REST', () => {
    it('serves PNGs written by SaveImage through /view', async () => {
      const sim = await start()
      const socket = await connect(sim, 'v')
      const id = await queuePrompt(sim, { prompt: txt2img(1), client_id: 'v' })
      await socket.done(id)
      const executed = socket.messages.find((m) => m.type === 'executed')
      expect(executed?.data['output']).toEqual({
        images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }],
      })
      const res = await fetch(`${sim.url}/view?filename=ComfyUI_00001_.png&type=output&subfolder=`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('image/png')
      const bytes = Buffer.from(await res.arrayBuffer())
      expect(bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE)
      expect(bytes.readUInt32BE(16)).toBe(512) // IHDR width
      const annotated = await fetch(
        `${sim.url}/api/view?filename=${encodeURIComponent('ComfyUI_00001_.png [output]')}&type=temp`,
      )
      expect(annotated.status).toBe(200)
    })

    it('answers /view errors like ComfyUI: 400 bad name or type, 403 traversal, 404 missing', async () => {
      const sim = await start()
      const status = async (query: string) => (await fetch(`${sim.url}/view?${query}`)).status
      expect(await status('filename=..%2Fx.png')).toBe(400)
      expect(await status('filename=%2Fetc%2Fpasswd')).toBe(400)
      expect(await status('filename=a.png&type=models')).toBe(400)
      expect(await status('filename=a.png&subfolder=..%2F..')).toBe(403)
      expect(await status('filename=missing.png')).toBe(404)
    })

    it('names files after the prefix with a growing counter and a subfolder from the prefix', async () => {
      const sim = await start()
      const socket = await connect(sim, 'n')
      const first = await queuePrompt(sim, { prompt: tiny('out/pic', 1), client_id: 'n' })
      await socket.done(first)
      const second = await queuePrompt(sim, { prompt: tiny('out/pic', 2), client_id: 'n' })
      await socket.done(second)
      const outputs = socket.messages
        .filter((m) => m.type === 'executed')
        .map((m) => m.data['output'])
      expect(outputs).toEqual([
        { images: [{ filename: 'pic_00001_.png', subfolder: 'out', type: 'output' }] },
        { images: [{ filename: 'pic_00002_.png', subfolder: 'out', type: 'output' }] },
      ])
      expect((await fetch(`${sim.url}/view?filename=pic_00002_.png&subfolder=out`)).status).toBe(
        200,
      )
    })

    it('lists the simulated node types in /object_info with their output_node flags', async () => {
      const sim = await start()
      const all = (await request(sim, 'GET', '/object_info')).body as Record<
        string,
        Record<string, unknown>
      >
      for (const name of [
        'CheckpointLoaderSimple',
        'CLIPTextEncode',
        'EmptyLatentImage',
        'KSampler',
        'VAEDecode',
        'SaveImage',
        'PreviewImage',
        'EmptyImage',
        'ImageInvert',
        'ImageBlur',
        'ImageScale',
        'VAELoader',
        'VAEDecodeTiled',
        'RegexReplace',
        'PreviewAny',
      ]) {
        expect(all[name], name).toBeDefined()
      }
      expect(all['SaveImage']?.['output_node']).toBe(true)
      expect(all['KSampler']?.['output_node']).toBe(false)
      const one = (await request(sim, 'GET', '/api/object_info/ImageScale')).body as Record<
        string,
        Record<string, unknown>
      >
      expect(one['ImageScale']).toMatchObject({
        input: {
          required: {
            upscale_method: [['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']],
          },
        },
        input_order: { required: ['image', 'upscale_method', 'width', 'height', 'crop'] },
        output: ['IMAGE'],
        name: 'ImageScale',
      })
      expect((await request(sim, 'GET', '/object_info/NoSuchNode')).body).toEqual({})
    })

    it('uploads an image that LoadImage then reads', async () => {
      const sim = await start()
      const png = Buffer.from(await (await fetch(`${sim.url}/view?filename=none`)).arrayBuffer())
      expect(png.length).toBeGreaterThan(0) // the 404 body; a real PNG comes from a SaveImage below
      const socket = await connect(sim, 'u')
      await socket.done(await queuePrompt(sim, { prompt: tiny('src', 0x123456), client_id: 'u' }))
      const image = await (await fetch(`${sim.url}/view?filename=src_00001_.png`)).arrayBuffer()
      const upload = async () => {
        const form = new FormData()
        form.append('image', new Blob([image], { type: 'image/png' }), 'cat.png')
        return fetch(`${sim.url}/upload/image`, { method: 'POST', body: form })
      }
      const res = await upload()
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ name: 'cat.png', subfolder: '', type: 'input' })
      expect(await (await upload()).json()).toMatchObject({ name: 'cat.png' }) // same content: reused
      const prompt = {
        '1': { class_type: 'LoadImage', inputs: { image: 'cat.png' } },
        '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
      }
      const id = await queuePrompt(sim, { prompt, client_id: 'u' })
      await socket.done(id)
      expect(types(socket.messages)).toContain('execution_success')
      const missing = await request(sim, 'POST', '/prompt', {
        prompt: { ...prompt, '1': { class_type: 'LoadImage', inputs: { image: 'dog.png' } } },
      })
      expect(missing.status).toBe(400)
      expect(JSON.stringify(missing.body)).toContain('Invalid image file: dog.png')
    })

    it('refuses a loopback request whose Origin does not match its Host', async () => {
      const sim = await start()
      const res = await request(sim, 'GET', '/prompt', undefined, { origin: 'http://evil.example' })
      expect(res.status).toBe(403)
      const same = await request(sim, 'GET', '/prompt', undefined, { origin: sim.url })
      expect(same.status).toBe(200)
    })

    it('answers 413 above maxUploadSize', async () => {
      const sim = await start({ maxUploadSize: 100 })
      const res = await request(sim, 'POST', '/prompt', {
        prompt: tiny(),
        padding: 'x'.repeat(200),
      })
      expect(res.status).toBe(413)
    })
  })

  describe('node failures', () => {
    it('fails a node by class_type with every execution_error field and records it in history', async () => {
      const sim = await start()
      const socket = await connect(sim, 'e')
      sim.failNode({
        classType: 'VAEDecode',
        message: 'CUDA out of memory',
        exceptionType: 'torch.OutOfMemoryError',
      })
      const id = await queuePrompt(sim, { prompt: txt2img(1), client_id: 'e' })
      await socket.done(id)
      const error = socket.messages.find((m) => m.type === 'execution_error')
      expect(error?.data).toEqual({
        prompt_id: id,
        node_id: '8',
        node_type: 'VAEDecode',
        executed: ['4', '5', '7', '6', '3'],
        exception_message: 'CUDA out of memory\n',
        exception_type: 'torch.OutOfMemoryError',
        traceback: expect.arrayContaining([expect.stringContaining('File "ComfyUI/execution.py"')]),
        current_inputs: { samples: ['<LATENT object>'], vae: ['<VAE object>'] },
        current_outputs: ['3', '4', '5', '6', '7', '8', '9'],
        timestamp: expect.any(Number),
      })
      expect(types(socket.messages).slice(-3)).toEqual(['execution_error', 'status', 'executing'])
      const entry = (
        (await request(sim, 'GET', `/history/${id}`)).body as Record<
          string,
          { status: { status_str: string; completed: boolean } }
        >
      )[id]
      expect(entry?.status).toMatchObject({ status_str: 'error', completed: false })
      // one-shot: the next run succeeds, re-using the cached upstream nodes
      const again = await queuePrompt(sim, { prompt: txt2img(1), client_id: 'e' })
      await socket.done(again)
      expect(socket.messages.filter((m) => m.type === 'execution_success')).toHaveLength(1)
    })

    it('keeps failing a node by id until the failures are cleared', async () => {
      const sim = await start()
      const socket = await connect(sim, 'e')
      sim.failNode({ nodeId: '1', times: Infinity })
      for (const color of [1, 2]) {
        await socket.done(await queuePrompt(sim, { prompt: tiny('x', color), client_id: 'e' }))
      }
      sim.clearNodeFailures()
      await socket.done(await queuePrompt(sim, { prompt: tiny('x', 3), client_id: 'e' }))
      const ends = socket.messages.filter(
        (m) =>
          m.type.startsWith('execution_') &&
          !['execution_start', 'execution_cached'].includes(m.type),
      )
      expect(types(ends)).toEqual(['execution_error', 'execution_error', 'execution_success'])
      expect(ends[0]?.data['exception_type']).toBe('RuntimeError')
    })

    it('fails a sampler after some of its steps', async () => {
      const sim = await start()
      const socket = await connect(sim, 'e')
      sim.failNode({ classType: 'KSampler', afterSteps: 2 })
      const id = await queuePrompt(sim, { prompt: txt2img(5), client_id: 'e' })
      await socket.done(id)
      expect(socket.messages.filter(isProgress(id)).map((m) => m.data['value'])).toEqual([1, 2])
      expect(types(socket.messages)).toContain('execution_error')
    })

    it('raises re.error from RegexReplace with an invalid pattern', async () => {
      const sim = await start()
      const socket = await connect(sim, 'r')
      const prompt = {
        '1': {
          class_type: 'RegexReplace',
          inputs: { string: 'a(b', regex_pattern: 'a[', replace: 'x' },
        },
        '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } },
      }
      await socket.done(await queuePrompt(sim, { prompt, client_id: 'r' }))
      const error = socket.messages.find((m) => m.type === 'execution_error')
      expect(error?.data).toMatchObject({
        exception_type: 're.error',
        exception_message: 'unterminated character set at position 1\n',
      })
    })

    it('replaces with a Python template and shows the text through PreviewAny', async () => {
      const sim = await start()
      const socket = await connect(sim, 'r')
      const prompt = {
        '1': {
          class_type: 'RegexReplace',
          inputs: {
            string: 'Hello World',
            regex_pattern: '(?P<w>o)',
            replace: '[\\g<w>]',
            count: 1,
          },
        },
        '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } },
      }
      await socket.done(await queuePrompt(sim, { prompt, client_id: 'r' }))
      expect(socket.messages.find((m) => m.type === 'executed')?.data['output']).toEqual({
        text: ['Hell[o] World'],
      })
    })

    it('runs custom node types given in the options', async () => {
      const sim = await start({
        nodeTypes: {
          Fails: {
            input: { required: { x: ['INT', { default: 0 }] } },
            outputNode: true,
            execute: () => {
              throw new SimulatedNodeError('nope', { exceptionType: 'ValueError' })
            },
          },
          Ticks: {
            input: { required: { n: ['INT', { default: 2, min: 1 }] } },
            outputNode: true,
            steps: (inputs) => Number(inputs['n']),
            execute: ({ inputs }) => ({ ui: { text: [`ticked ${String(inputs['n'])}`] } }),
          },
        },
      })
      const socket = await connect(sim, 'c')
      await socket.done(
        await queuePrompt(sim, {
          prompt: { '1': { class_type: 'Ticks', inputs: { n: 3 } } },
          client_id: 'c',
        }),
      )
      expect(
        socket.messages.filter((m) => m.type === 'progress').map((m) => m.data['value']),
      ).toEqual([1, 2, 3])
      expect(socket.messages.find((m) => m.type === 'executed')?.data['output']).toEqual({
        text: ['ticked 3'],
      })
      await socket.done(
        await queuePrompt(sim, {
          prompt: { '1': { class_type: 'Fails', inputs: { x: 1 } } },
          client_id: 'c',
        }),
      )
      expect(socket.messages.find((m) => m.type === 'execution_error')?.data).toMatchObject({
        exception_type: 'ValueError',
        exception_message: 'nope\n',
        current_inputs: { x: [1] },
      })
      const info = (await request(sim, 'GET', '/object_info/Ticks')).body as Record<string, object>
      expect(info['Ticks']).toMatchObject({
        output_node: true,
        python_module: 'custom_nodes.simulator',
      })
    })
  })

  describe('fault controls', () => {
    it('drops every socket abruptly', async () => {
      const sim = await start()
      const a = await connect(sim, 'a')
      const b = await connect(sim, 'b')
      sim.dropSockets()
      expect(await a.closedPromise).toBe(1006)
      expect(await b.closedPromise).toBe(1006)
      expect(sim.openSockets).toBe(0)
    })

    it('refuses new sockets while REST keeps working', async () => {
      const sim = await start()
      sim.refuseSockets(true)
      expect(await expectConnectFailure(`${sim.wsUrl}?clientId=x`)).toMatch(
        /socket hang up|ECONNRESET/,
      )
      expect((await request(sim, 'GET', '/prompt')).status).toBe(200)
      sim.refuseSockets(false)
      const socket = await connect(sim, 'x')
      expect(socket.messages[0]?.type).toBe('status')
    })

    it('goes silent: sockets stay open and receive nothing, and a prompt still completes', async () => {
      const sim = await start()
      const socket = await connect(sim, 's')
      sim.setSilent(true)
      const finished = once(sim, 'promptFinished')
      const id = await queuePrompt(sim, { prompt: tiny(), client_id: 's' })
      await finished
      expect(socket.messages).toHaveLength(1)
      expect(socket.closed).toBe(false)
      expect(Object.keys((await request(sim, 'GET', `/history/${id}`)).body as object)).toEqual([
        id,
      ])
      sim.setSilent(false)
      await socket.done(await queuePrompt(sim, { prompt: tiny('after'), client_id: 's' }))
    })

    it('answers an endpoint with a status code n times, with or without /api', async () => {
      const sim = await start()
      sim.failEndpoint({ method: 'GET', path: '/history', status: 500, times: 2 })
      expect((await request(sim, 'GET', '/history')).status).toBe(500)
      expect((await request(sim, 'GET', '/api/history')).status).toBe(500)
      expect((await request(sim, 'GET', '/history')).status).toBe(200)
      sim.failEndpoint({
        path: /^\/history\//,
        status: 502,
        times: Infinity,
        body: { error: 'bad gateway' },
      })
      const res = await request(sim, 'GET', '/history/abc')
      expect(res).toMatchObject({ status: 502, body: { error: 'bad gateway' } })
      sim.clearEndpointFailures()
      expect((await request(sim, 'GET', '/history/abc')).status).toBe(200)
    })

    it('answers a WebSocket upgrade with an injected status', async () => {
      const sim = await start()
      sim.failEndpoint({ path: '/ws', status: 503 })
      expect(await expectConnectFailure(sim.wsUrl)).toBe('status 503')
      await connect(sim, 'ok')
    })

    it('restarts: the running prompt, queue, history and sockets are gone', async () => {
      const sim = await start({ stepDurationMs: 20 })
      const socket = await connect(sim, 'r')
      const done = await queuePrompt(sim, { prompt: tiny(), client_id: 'r' })
      await socket.done(done)
      const running = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'r' })
      await queuePrompt(sim, { prompt: tiny('pending'), client_id: 'r' })
      await socket.waitFor(isProgress(running))
      await sim.restart()
      expect(await socket.closedPromise).toBe(1006)
      expect(sim.queueRemaining).toBe(0)
      expect(sim.historyPromptIds).toEqual([])
      expect((await request(sim, 'GET', `/history/${done}`)).body).toEqual({})
      expect((await request(sim, 'GET', '/queue')).body).toEqual({
        queue_running: [],
        queue_pending: [],
      })
      const fresh = await connect(sim, 'r')
      expect(fresh.messages).toEqual([
        { type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'r' } },
      ])
      const id = await queuePrompt(sim, { prompt: tiny('again'), client_id: 'r' })
      await fresh.done(id)
      const body = (await request(sim, 'GET', `/history/${id}`)).body
      const entry = (body as Record<string, { prompt: unknown[] }>)[id]
      expect(entry?.prompt.slice(0, 2)).toEqual([0, id]) // the prompt counter restarted too
    })

    it('refuses every connection during a restart downtime', async () => {
      const sim = await start()
      const restarted = sim.restart({ downtimeMs: 60_000 })
      await expect(fetch(`${sim.url}/prompt`)).rejects.toThrow()
      expect(await expectConnectFailure(sim.wsUrl)).toMatch(/socket hang up|ECONNRESET/)
      await sim.close()
      await restarted
    })

    it('sends a malformed frame to one clientId or to every socket', async () => {
      const sim = await start()
      const a = await connect(sim, 'a')
      const b = await connect(sim, 'b')
      sim.sendRawFrame('{not json', 'a')
      sim.sendRawFrame(Buffer.from([0, 0, 0, 99, 1, 2]))
      await a.waitForFrame((f) => f.kind === 'binary')
      await b.waitForFrame((f) => f.kind === 'binary')
      expect(b.frames).toHaveLength(2)
      expect(a.frames).toHaveLength(3)
      expect(a.messages[1]).toEqual({ type: '<malformed>', data: { text: '{not json' } })
      expect(a.binaries[0]).toEqual(Buffer.from([0, 0, 0, 99, 1, 2]))
    })

    it('hangs the worker: the prompt stays in queue_running until a restart', async () => {
      const sim = await start()
      const socket = await connect(sim, 'h')
      sim.hangWorker()
      const started = once(sim, 'promptStarted')
      const id = await queuePrompt(sim, { prompt: tiny(), client_id: 'h' })
      await started
      await socket.waitFor((m) => m.type === 'executing' && m.data['node'] === '1')
      const queue = (await request(sim, 'GET', '/queue')).body as { queue_running: unknown[][] }
      expect(queue.queue_running[0]?.[1]).toBe(id)
      await sim.restart()
      expect(sim.runningPromptId).toBeUndefined()
    })

    it('refuses an invalid fault with a TypeError naming the field and the value', async () => {
      const sim = await start()
      expect(() => sim.failNode({})).toThrow(TypeError)
      expect(() => sim.failNode({ classType: 'KSampler', times: 0 })).toThrow(
        'NodeFailure.times must be a number >= 1, received 0',
      )
      expect(() => sim.failEndpoint({ path: '/prompt', status: 99 })).toThrow(
        'EndpointFailure.status must be an integer >= 100, received 99',
      )
      await expect(sim.restart({ downtimeMs: -1 })).rejects.toThrow(
        'RestartOptions.downtimeMs must be a number >= 0, received -1',
      )
      expect((await request(sim, 'GET', '/prompt')).status).toBe(200)
    })
  })

  describe('close()', () => {
    it('leaves nothing running: server closed, sockets closed, timers cleared', async () => {
      const sim = await startComfySimulator({ stepDurationMs: 20 })
      const socket = await openSocket(sim.wsUrl, { clientId: 'z' })
      const id = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'z' })
      await socket.waitFor(isProgress(id))
      await sim.close()
      expect(sim.httpServer.listening).toBe(false)
      expect(sim.openSockets).toBe(0)
      expect(await socket.closedPromise).toBe(1006)
      const count = socket.frames.length
      await expect(fetch(`${sim.url}/prompt`)).rejects.toThrow()
      expect(socket.frames).toHaveLength(count)
      await sim.close() // idempotent
    })

    it('validates its options', async () => {
      await expect(startComfySimulator({ port: -1 })).rejects.toThrow(TypeError)
      await expect(startComfySimulator({ port: 65536 })).rejects.toThrow(
        'ComfySimulatorOptions.port must be an integer from 0 to 65535, received 65536',
      )
      await expect(startComfySimulator({ stepDurationMs: Number.NaN })).rejects.toThrow(
        'ComfySimulatorOptions.stepDurationMs must be a number >= 0, received NaN',
      )
    })
  })
})
