import * as t from 'io-ts'
import { ExecutionErrorData, NodeOutput } from './ComfyMessage.js'
import { HistoryStatus } from './History.js'

/*
 * Codecs of the Jobs API (v0.6.0+, only under `/api/`: `GET /api/jobs`, `GET /api/jobs/{id}`,
 * `POST /api/jobs/{id}/cancel`). The server leaves out absent values rather than sending null, so
 * everything but `id` and `status` is `t.partial`.
 */

/**
 * The statuses ComfyUI knows: `cancelled` since v0.9.0 (an interrupted prompt; before, it was
 * `failed`). Narrow a job's status with `KnownJobStatus.is(job.status)`.
 */
export const KnownJobStatus = t.keyof({
  pending: null,
  in_progress: null,
  completed: null,
  failed: null,
  cancelled: null,
})
export type KnownJobStatus = t.TypeOf<typeof KnownJobStatus>

/** A job's status: one of `KnownJobStatus`, or any other string a newer server may send. */
export const JobStatus = t.union([KnownJobStatus, t.string])
export type JobStatus = t.TypeOf<typeof JobStatus>

/**
 * The output a UI shows for a finished job: one file entry of its outputs (any keys, `id` in
 * assets mode) with the node it came from and its media type (`images`, `video`, `audio`, `3d`…).
 */
export const JobPreviewOutput = t.intersection([
  t.type({ nodeId: t.string, mediaType: t.string }),
  t.partial({ filename: t.string, subfolder: t.string, type: t.string }),
])
export type JobPreviewOutput = t.TypeOf<typeof JobPreviewOutput>

/** The prompt a job ran, as it was queued: the API graph and its `extra_data`. */
export const JobWorkflow = t.type({ prompt: t.unknown, extra_data: t.UnknownRecord })
export type JobWorkflow = t.TypeOf<typeof JobWorkflow>

/**
 * One job of `GET /api/jobs`, or `GET /api/jobs/{id}`. `priority` is the queue number (sort the
 * pending jobs by it, ascending, for queue positions); times are epoch ms. Only a single-job read
 * of a finished prompt adds `outputs`, `execution_status` (history's `status`, null when the
 * history entry has none) and `workflow`.
 */
export const Job = t.intersection([
  t.type({ id: t.string, status: JobStatus }),
  t.partial({
    priority: t.number,
    create_time: t.number,
    execution_start_time: t.number,
    execution_end_time: t.number,
    execution_error: ExecutionErrorData,
    outputs_count: t.number,
    preview_output: JobPreviewOutput,
    workflow_id: t.string,
    outputs: t.record(t.string, NodeOutput),
    execution_status: t.union([HistoryStatus, t.null]),
    workflow: JobWorkflow,
  }),
])
export type Job = t.TypeOf<typeof Job>

/** The page `GET /api/jobs` answered: `limit` is null when none was asked for. */
export const JobPagination = t.type({
  offset: t.number,
  limit: t.union([t.number, t.null]),
  total: t.number,
  has_more: t.boolean,
})
export type JobPagination = t.TypeOf<typeof JobPagination>

/**
 * `GET /api/jobs`: one page of jobs, filtered and sorted as asked.
 *
 * @example
 * ```ts
 * import { JobList } from 'comfyui-rx'
 * import { isRight } from 'fp-ts/lib/Either.js'
 *
 * const body = await (await fetch(`${url}/api/jobs?status=pending`)).json()
 * const page = JobList.decode(body)
 * if (isRight(page)) {
 *   const queue = [...page.right.jobs].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))
 *   console.log(queue.map((job) => job.id)) // ['3fa85f64-…', …], next to run first
 * }
 * ```
 */
export const JobList = t.type({ jobs: t.array(Job), pagination: JobPagination })
export type JobList = t.TypeOf<typeof JobList>

/**
 * `POST /api/jobs/{id}/cancel` and `POST /api/jobs/cancel` (v0.26.0): whether a pending prompt was
 * dequeued or a running one interrupted; `false` for finished or unknown ids.
 */
export const JobCancelAnswer = t.type({ cancelled: t.boolean })
export type JobCancelAnswer = t.TypeOf<typeof JobCancelAnswer>
