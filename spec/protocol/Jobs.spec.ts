import { isLeft, isRight } from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { ExecutionErrorData, NodeOutput } from '../../src/protocol/ComfyMessage.js'
import type { HistoryStatus } from '../../src/protocol/History.js'
import {
  Job,
  JobCancelAnswer,
  JobList,
  KnownJobStatus,
  type JobPreviewOutput,
} from '../../src/protocol/Jobs.js'

const PROMPT_ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6'

/** Shaped as `normalize_queue_item` (comfy_execution/jobs.py) writes a running or pending prompt. */
const queued = {
  id: '0c6e1c55-8c43-4f4b-9f1e-0a1e6a7f9b10',
  status: 'pending',
  priority: 13,
  create_time: 1789000001000,
  outputs_count: 0,
  workflow_id: 'a9d3f5d2-1b7e-4a55-8a0f-6e1f0c2b7d44',
}

const executionError = {
  prompt_id: PROMPT_ID,
  node_id: '3',
  node_type: 'KSampler',
  executed: ['4', '5'],
  exception_message: 'CUDA out of memory. Tried to allocate 2.00 GiB\n',
  exception_type: 'torch.OutOfMemoryError',
  traceback: ['  File "execution.py", line 500, in execute\n'],
  current_inputs: { steps: [20] },
  current_outputs: ['4', '5'],
  timestamp: 1789000003000,
}

/** Shaped as `normalize_history_item`: a finished prompt, without the single-job extras. */
const completed = {
  id: PROMPT_ID,
  status: 'completed',
  priority: 12,
  create_time: 1789000000000,
  execution_start_time: 1789000000050,
  execution_end_time: 1789000003000,
  outputs_count: 1,
  preview_output: {
    filename: 'ComfyUI_00001_.png',
    subfolder: '',
    type: 'output',
    id: '5b2f9c1e-8d7a-4b3c-9e1f-2a4d6c8b0e13',
    nodeId: '9',
    mediaType: 'images',
  },
}

const failed = { ...completed, status: 'failed', execution_error: executionError }

/** `GET /api/jobs/{id}` of a finished prompt: the summary plus outputs, status and workflow. */
const single = {
  ...completed,
  outputs: {
    '9': {
      images: [
        {
          filename: 'ComfyUI_00001_.png',
          subfolder: '',
          type: 'output',
          id: '5b2f9c1e-8d7a-4b3c-9e1f-2a4d6c8b0e13',
        },
      ],
    },
    '12': { '3d': [{ filename: 'mesh.glb', type: 'output', subfolder: '', mediaType: '3d' }] },
  },
  execution_status: {
    status_str: 'success',
    completed: true,
    messages: [
      ['execution_start', { prompt_id: PROMPT_ID, timestamp: 1789000000050 }],
      ['execution_cached', { nodes: [], prompt_id: PROMPT_ID, timestamp: 1789000000060 }],
      ['execution_success', { prompt_id: PROMPT_ID, timestamp: 1789000003000 }],
    ],
  },
  workflow: {
    prompt: { '9': { class_type: 'SaveImage', inputs: { images: ['8', 0] } } },
    extra_data: { client_id: 'c1', create_time: 1789000000000 },
  },
}

function decoded<A>(codec: t.Decoder<unknown, A>, value: unknown): A {
  const result = codec.decode(value)
  if (isLeft(result)) throw new Error(`expected ${codec.name} to decode ${JSON.stringify(value)}`)
  return result.right
}

describe('Job', () => {
  it('decodes the job of a queued prompt, which has no times, outputs or error', () => {
    expect(decoded(Job, queued)).toEqual(queued)
  })

  it('decodes a failed job with the whole execution_error payload', () => {
    const job = decoded(Job, failed)
    expect(job.execution_error).toEqual(executionError)
    expectTypeOf(job.execution_error).toEqualTypeOf<ExecutionErrorData | undefined>()
  })

  it('keeps the extra keys of the preview output, such as the asset id', () => {
    const job = decoded(Job, failed)
    expect(job.preview_output).toEqual(failed.preview_output)
    expectTypeOf(job.preview_output).toEqualTypeOf<JobPreviewOutput | undefined>()
  })

  it('decodes a single-job read with its outputs, execution_status and workflow', () => {
    const job = decoded(Job, single)
    expect(job.outputs).toEqual(single.outputs)
    expect(job.execution_status?.messages).toHaveLength(3)
    expect(job.workflow?.extra_data).toEqual({ client_id: 'c1', create_time: 1789000000000 })
    expectTypeOf(job.outputs).toEqualTypeOf<Record<string, NodeOutput> | undefined>()
    expectTypeOf(job.execution_status).toEqualTypeOf<HistoryStatus | null | undefined>()
  })

  it('accepts an execution_status of null, written for a history entry without status', () => {
    expect(isRight(Job.decode({ ...single, execution_status: null }))).toBe(true)
  })

  it.each(['pending', 'in_progress', 'completed', 'failed', 'cancelled'])(
    'knows the status %s',
    (status) => {
      const job = decoded(Job, { ...queued, status })
      expect(KnownJobStatus.is(job.status)).toBe(true)
    },
  )

  it('keeps a status a newer server may add, without knowing it', () => {
    const job = decoded(Job, { ...queued, status: 'paused' })
    expect(job.status).toBe('paused')
    expect(KnownJobStatus.is(job.status)).toBe(false)
  })

  it.each([
    ['no id', { ...queued, id: undefined }],
    ['a status that is not a string', { ...queued, status: 3 }],
    ['a priority that is not a number', { ...queued, priority: '13' }],
    ['an execution_error without prompt_id', { ...failed, execution_error: { node_id: '3' } }],
    ['a preview output without its node', { ...failed, preview_output: { filename: 'a.png' } }],
    ['a workflow without extra_data', { ...single, workflow: { prompt: {} } }],
  ])('rejects a job with %s', (_, job) => {
    expect(isLeft(Job.decode(job))).toBe(true)
  })
})

describe('JobList', () => {
  it('decodes a page of jobs with its pagination', () => {
    const page = {
      jobs: [queued, { ...queued, status: 'in_progress', priority: 12 }, failed],
      pagination: { offset: 0, limit: 50, total: 3, has_more: false },
    }
    expect(decoded(JobList, page)).toEqual(page)
  })

  it('accepts the null limit of a request that asked for none', () => {
    const page = { jobs: [], pagination: { offset: 0, limit: null, total: 0, has_more: false } }
    expect(decoded(JobList, page).pagination.limit).toBeNull()
  })

  it('rejects a page without pagination, or with a job that is not one', () => {
    expect(isLeft(JobList.decode({ jobs: [queued] }))).toBe(true)
    expect(
      isLeft(
        JobList.decode({
          jobs: [{ status: 'pending' }],
          pagination: { offset: 0, limit: null, total: 1, has_more: false },
        }),
      ),
    ).toBe(true)
  })
})

describe('JobCancelAnswer', () => {
  it('decodes both answers of POST /api/jobs/{id}/cancel', () => {
    expect(decoded(JobCancelAnswer, { cancelled: true }).cancelled).toBe(true)
    expect(decoded(JobCancelAnswer, { cancelled: false }).cancelled).toBe(false)
  })

  it('rejects an answer that is not a boolean', () => {
    expect(isLeft(JobCancelAnswer.decode({ cancelled: 'true' }))).toBe(true)
    expect(isLeft(JobCancelAnswer.decode({ error: 'Job not found' }))).toBe(true)
  })
})
