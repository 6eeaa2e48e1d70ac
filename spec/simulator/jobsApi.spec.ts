import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { ComfySimulator } from '../../src/simulator/index.js'
import { queuePrompt, request, tiny, txt2img, useSimulators } from './simulatorTestKit.js'
import type { Message } from './simulatorTestKit.js'

// The Jobs API of a ComfyUI 0.33 simulator, over real sockets.

const { start, connect } = useSimulators()

type Job = Record<string, unknown>
interface JobList {
  readonly jobs: Job[]
  readonly pagination: Record<string, unknown>
}

const UNKNOWN_ID = 'ffffffff-ffff-4fff-8fff-ffffffffffff'

const isProgress = (promptId: string) => (m: Message) =>
  m.type === 'progress' && m.data['prompt_id'] === promptId

async function jobs(sim: ComfySimulator, query = ''): Promise<JobList> {
  const res = await request(sim, 'GET', `/api/jobs${query}`)
  expect(res.status).toBe(200)
  return res.body as JobList
}

/** Runs `prompt` to its end and returns its id. */
async function run(sim: ComfySimulator, body: Record<string, unknown>): Promise<string> {
  const finished = once(sim, 'promptFinished')
  const id = await queuePrompt(sim, body)
  await finished
  return id
}

describe('the Jobs API', () => {
  it('exists only under /api on 0.33 (also /api/api, as aiohttp mirrors the table)', async () => {
    const sim = await start({ version: '0.33' })
    const empty = {
      jobs: [],
      pagination: { offset: 0, limit: null, total: 0, has_more: false },
    }
    expect((await request(sim, 'GET', '/api/jobs')).body).toEqual(empty)
    expect((await request(sim, 'GET', '/api/api/jobs')).body).toEqual(empty)
    expect(await request(sim, 'GET', '/jobs')).toMatchObject({
      status: 404,
      body: '404: Not Found',
    })
    expect((await request(sim, 'POST', `/jobs/${UNKNOWN_ID}/cancel`)).status).toBe(404)
  })

  it('is 404 on 0.3.64 like any unknown route', async () => {
    const sim = await start()
    const unknown = await request(sim, 'GET', '/api/no_such_route')
    for (const [method, path] of [
      ['GET', '/api/jobs'],
      ['GET', `/api/jobs/${UNKNOWN_ID}`],
      ['POST', `/api/jobs/${UNKNOWN_ID}/cancel`],
      ['POST', '/api/jobs/cancel'],
    ] as const) {
      const res = await request(sim, method, path, method === 'POST' ? { job_ids: [] } : undefined)
      expect({ path, ...res }).toEqual({ path, ...unknown })
    }
  })

  describe('GET /api/jobs', () => {
    it('lists the running, pending and finished prompts newest first, absent fields left out', async () => {
      const sim = await start({ version: '0.33', stepDurationMs: 20 })
      const socket = await connect(sim, 'j')
      const done = await run(sim, { prompt: tiny('done'), client_id: 'j' })
      const running = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'j' })
      await socket.waitFor(isProgress(running))
      const pending = await queuePrompt(sim, { prompt: tiny('pending'), client_id: 'j' })

      const { jobs: all, pagination } = await jobs(sim)
      expect(pagination).toEqual({ offset: 0, limit: null, total: 3, has_more: false })
      const times = all.map((job) => job['create_time'] as number)
      expect(times).toEqual([...times].sort((a, b) => b - a))
      const byId = new Map(all.map((job) => [job['id'], job]))
      expect(byId.get(pending)).toEqual({
        id: pending,
        status: 'pending',
        priority: 2,
        create_time: expect.any(Number),
        outputs_count: 0,
        previewable_outputs_count: 0,
      })
      expect(byId.get(running)).toEqual({
        id: running,
        status: 'in_progress',
        priority: 1,
        create_time: expect.any(Number),
        outputs_count: 0,
        previewable_outputs_count: 0,
      })
      const finished = byId.get(done) as Job
      expect(finished).toEqual({
        id: done,
        status: 'completed',
        priority: 0,
        create_time: expect.any(Number),
        execution_start_time: expect.any(Number),
        execution_end_time: expect.any(Number),
        outputs_count: 1,
        previewable_outputs_count: 1,
        preview_output: {
          filename: 'done_00001_.png',
          subfolder: '',
          type: 'output',
          nodeId: '2',
          mediaType: 'images',
        },
      })
      expect(finished['execution_end_time']).toBeGreaterThanOrEqual(
        finished['execution_start_time'] as number,
      )
      await request(sim, 'POST', '/interrupt', { prompt_id: running })
    })

    it('filters by status, sorts, pages and answers 400 to bad values', async () => {
      const sim = await start({ version: '0.33', paused: true })
      const a = await queuePrompt(sim, { prompt: tiny('a') })
      const b = await queuePrompt(sim, { prompt: tiny('b') })
      const c = await queuePrompt(sim, { prompt: tiny('c') })
      const ids = async (query: string) => (await jobs(sim, query)).jobs.map((job) => job['id'])
      expect(await ids('?status=completed,failed')).toEqual([])
      expect((await ids('?status= Pending ,in_progress')).sort()).toEqual([a, b, c].sort())
      const oldestFirst = (await jobs(sim, '?sort_order=asc')).jobs
      const created = oldestFirst.map((job) => job['create_time'] as number)
      expect(created).toEqual([...created].sort((x, y) => x - y))
      const page = await jobs(sim, '?sort_order=asc&limit=1&offset=1')
      expect(page.jobs.map((job) => job['id'])).toEqual([oldestFirst[1]?.['id']])
      expect(page.pagination).toEqual({ offset: 1, limit: 1, total: 3, has_more: true })
      expect((await jobs(sim, '?offset=-5&limit=5')).pagination).toEqual({
        offset: 0,
        limit: 5,
        total: 3,
        has_more: false,
      })
      expect((await jobs(sim, '?sort_by=EXECUTION_DURATION')).pagination['total']).toBe(3)

      for (const [query, error] of [
        [
          '?status=pending,done',
          'Invalid status value(s): done. Valid values: pending, in_progress, completed, failed, cancelled',
        ],
        ['?sort_by=name', "sort_by must be 'created_at' or 'execution_duration'"],
        ['?sort_order=up', "sort_order must be 'asc' or 'desc'"],
        ['?limit=0', 'limit must be a positive integer'],
        ['?limit=ten', 'limit must be an integer'],
        ['?offset=1.5', 'offset must be an integer'],
      ]) {
        expect(await request(sim, 'GET', `/api/jobs${query}`)).toMatchObject({
          status: 400,
          body: { error },
        })
      }
    })

    it('maps history outcomes: failed with its execution_error, interrupted as cancelled', async () => {
      const sim = await start({ version: '0.33', stepDurationMs: 20 })
      const socket = await connect(sim, 'o')
      sim.failNode({ classType: 'EmptyImage', message: 'boom' })
      const failed = await run(sim, { prompt: tiny('f'), client_id: 'o' })
      const interrupted = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'o' })
      await socket.waitFor(isProgress(interrupted))
      await request(sim, 'POST', '/interrupt', { prompt_id: interrupted })
      await socket.done(interrupted)

      const error = socket.messages.find((m) => m.type === 'execution_error')
      const list = (await jobs(sim, '?status=failed,cancelled')).jobs
      const byId = new Map(list.map((job) => [job['id'], job]))
      expect(byId.get(failed)).toMatchObject({
        status: 'failed',
        execution_error: error?.data,
        outputs_count: 0,
      })
      expect(byId.get(failed)).not.toHaveProperty('preview_output')
      expect(byId.get(interrupted)).toMatchObject({ status: 'cancelled' })
      expect(byId.get(interrupted)).not.toHaveProperty('execution_error')
      expect((await jobs(sim, '?status=cancelled')).jobs.map((job) => job['id'])).toEqual([
        interrupted,
      ])
    })

    it("takes workflow_id from extra_pnginfo's workflow and filters by it", async () => {
      const sim = await start({ version: '0.33', paused: true })
      const mine = await queuePrompt(sim, {
        prompt: tiny('w'),
        extra_data: { extra_pnginfo: { workflow: { id: 'wf-1', nodes: [] } } },
      })
      await queuePrompt(sim, { prompt: tiny('x') })
      const list = await jobs(sim, '?workflow_id=wf-1')
      expect(list.jobs).toEqual([expect.objectContaining({ id: mine, workflow_id: 'wf-1' })])
      expect(list.pagination['total']).toBe(1)
    })

    it('uses the UI text of PreviewAny as the preview when nothing else can be shown', async () => {
      const sim = await start({ version: '0.33' })
      const id = await run(sim, {
        prompt: {
          '1': {
            class_type: 'RegexReplace',
            inputs: { string: 'hello', regex_pattern: 'l+', replace: 'L' },
          },
          '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } },
        },
        client_id: 'p',
      })
      const job = (await request(sim, 'GET', `/api/jobs/${id}`)).body as Job
      expect(job).toMatchObject({
        outputs_count: 0,
        previewable_outputs_count: 0,
        preview_output: { content: 'heLo', nodeId: '2', mediaType: 'text' },
        outputs: { '2': { text: ['heLo'] } },
      })
    })
  })

  describe('GET /api/jobs/{id}', () => {
    it('reads history with outputs, execution_status and workflow, then the queue, else 404', async () => {
      const sim = await start({ version: '0.33' })
      const done = await run(sim, { prompt: tiny('one'), client_id: 'g' })
      const history = (await request(sim, 'GET', `/history/${done}`)).body as Record<
        string,
        { outputs: object; status: object; prompt: unknown[] }
      >
      const entry = history[done]
      const job = (await request(sim, 'GET', `/api/jobs/${done}`)).body as Job
      expect(job).toMatchObject({ id: done, status: 'completed', outputs_count: 1 })
      expect(job['outputs']).toEqual(entry?.outputs)
      expect(job['execution_status']).toEqual(entry?.status)
      expect(job['workflow']).toEqual({
        prompt: tiny('one'),
        extra_data: { client_id: 'g', create_time: expect.any(Number) },
      })

      sim.pause()
      const pending = await queuePrompt(sim, { prompt: tiny('two') })
      expect((await request(sim, 'GET', `/api/jobs/${pending}`)).body).toEqual({
        id: pending,
        status: 'pending',
        priority: 1,
        create_time: expect.any(Number),
        outputs_count: 0,
        previewable_outputs_count: 0,
      })
      expect(await request(sim, 'GET', `/api/jobs/${UNKNOWN_ID}`)).toMatchObject({
        status: 404,
        body: { error: 'Job not found' },
      })
      expect((await request(sim, 'GET', '/api/jobs/cancel')).status).toBe(404)
    })
  })

  describe('POST /api/jobs/{id}/cancel', () => {
    it('dequeues a pending prompt without a message for it and without a history entry', async () => {
      const sim = await start({ version: '0.33', paused: true })
      const socket = await connect(sim, 'c')
      const kept = await queuePrompt(sim, { prompt: tiny('kept'), client_id: 'c' })
      const dropped = await queuePrompt(sim, { prompt: tiny('dropped'), client_id: 'c' })
      expect((await request(sim, 'POST', `/api/jobs/${dropped}/cancel`)).body).toEqual({
        cancelled: true,
      })
      expect(sim.pendingPromptIds).toEqual([kept])
      sim.resume()
      await socket.done(kept)
      expect(sim.historyPromptIds).toEqual([kept])
      expect(socket.messages.filter((m) => m.data['prompt_id'] === dropped)).toEqual([])
      // A status broadcast told every client that the queue shrank, as for POST /queue {delete}.
      const remaining = socket.messages
        .filter((m) => m.type === 'status')
        .map((m) => (m.data['status'] as { exec_info: { queue_remaining: number } }).exec_info)
      expect(remaining.slice(0, 4)).toEqual([
        { queue_remaining: 0 },
        { queue_remaining: 1 },
        { queue_remaining: 2 },
        { queue_remaining: 1 },
      ])
      for (const id of [dropped, kept, UNKNOWN_ID, 'not-even-a-uuid']) {
        expect((await request(sim, 'POST', `/api/jobs/${id}/cancel`)).body).toEqual({
          cancelled: false,
        })
      }
    })

    it('interrupts the running prompt, which ends interrupted and reads as cancelled', async () => {
      const sim = await start({ version: '0.33', stepDurationMs: 20 })
      const socket = await connect(sim, 'r')
      const id = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'r' })
      await socket.waitFor(isProgress(id))
      expect((await request(sim, 'POST', `/api/jobs/${id}/cancel`)).body).toEqual({
        cancelled: true,
      })
      await socket.done(id)
      expect(socket.messages.find((m) => m.type === 'execution_interrupted')?.data).toMatchObject({
        prompt_id: id,
        node_id: '3',
      })
      expect((await request(sim, 'GET', `/api/jobs/${id}`)).body).toMatchObject({
        status: 'cancelled',
        execution_status: { status_str: 'error', completed: false },
      })
    })
  })

  describe('POST /api/jobs/cancel', () => {
    it('cancels every known id, skipping unknown and finished ones', async () => {
      const sim = await start({ version: '0.33', stepDurationMs: 20 })
      const socket = await connect(sim, 'b')
      const done = await run(sim, { prompt: tiny('done'), client_id: 'b' })
      const running = await queuePrompt(sim, { prompt: txt2img(1000), client_id: 'b' })
      await socket.waitFor(isProgress(running))
      const pending = await queuePrompt(sim, { prompt: tiny('pending'), client_id: 'b' })
      const res = await request(sim, 'POST', '/api/jobs/cancel', {
        job_ids: [done, running, UNKNOWN_ID, pending],
      })
      expect(res).toMatchObject({ status: 200, body: { cancelled: true } })
      await socket.done(running)
      expect(sim.queueRemaining).toBe(0)
      expect(sim.historyPromptIds).toEqual([done, running])
      expect(
        (await request(sim, 'POST', '/api/jobs/cancel', { job_ids: [done, UNKNOWN_ID] })).body,
      ).toEqual({ cancelled: false })
    })

    it('answers 400 and cancels nothing when an id is not a canonical UUID or the body is wrong', async () => {
      const sim = await start({ version: '0.33', paused: true })
      const pending = await queuePrompt(sim, { prompt: tiny() })
      expect(
        await request(sim, 'POST', '/api/jobs/cancel', {
          job_ids: [pending, 'nope', pending.toUpperCase(), 5, null],
        }),
      ).toMatchObject({
        status: 400,
        body: {
          error: 'job_ids contains invalid id(s)',
          invalid_ids: ['nope', pending.toUpperCase(), '5', 'None'],
        },
      })
      expect(await request(sim, 'POST', '/api/jobs/cancel', { ids: [pending] })).toMatchObject({
        status: 400,
        body: { error: 'job_ids must be a list' },
      })
      expect(await request(sim, 'POST', '/api/jobs/cancel', '{not json')).toMatchObject({
        status: 400,
        body: { error: 'Request body must be valid JSON' },
      })
      expect(sim.pendingPromptIds).toEqual([pending])
    })
  })
})
