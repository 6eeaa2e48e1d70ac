import type { SchedulerLike } from 'rxjs'
import type { CancelledPhase } from '../errors/ComfyCancelledError.js'
import type { PromptLookup } from '../job/JobContext.js'
import type { QueueState } from '../job/JobState.js'
import { isWorkflow, type Workflow } from '../job/Workflow.js'
import { History, type HistoryEntry } from '../protocol/History.js'
import { Job, JobCancelAnswer, JobList } from '../protocol/Jobs.js'
import { Queue } from '../protocol/Queue.js'
import { PromptAccepted } from '../protocol/PromptResponse.js'
import { promptRejectionError } from '../errors/promptRejectionError.js'
import type { PodHttpClient } from './PodHttpClient.js'
import type { QueuedPrompt } from './QueuedPrompt.js'
import type { QueueWorkflowOptions } from './QueueWorkflowOptions.js'

/** How long a queue read waits for more jobs to ask before it is sent. */
const QUEUE_READ_WINDOW_MS = 5

/** Where each listed prompt stands, by id: one decoded read, an O(1) lookup per job. */
type QueueIndex = ReadonlyMap<string, QueueState>

const ABSENT: QueueState = { state: 'absent' }

/** The pending and running jobs, without graphs (the cheap queue view of the Jobs API). */
const LIVE_JOBS = '/api/jobs?status=pending,in_progress&sort_by=created_at&sort_order=asc'

/**
 * Where a pod's prompts stand, over REST, for its jobs and `pod.cancel`. Uses the Jobs API where
 * the pod has it (ComfyUI 0.6+: no prompt graphs in queue reads, one request per prompt lookup,
 * an atomic cancel) and `/queue`, `/history` and `/interrupt` otherwise; the first 404 of
 * `/api/jobs` tells, and is remembered. The jobs asking within a few milliseconds share one read.
 */
export class PodPrompts {
  /** Whether the pod has the Jobs API; unknown until it answered once. */
  private jobsApi: boolean | undefined
  private sharedIndex: Promise<QueueIndex> | undefined
  private sharedQueueIndex: Promise<QueueIndex> | undefined

  constructor(
    private readonly http: PodHttpClient,
    private readonly scheduler: SchedulerLike,
  ) {}

  /**
   * `POST /prompt` under `clientId`, asking for `promptId`.
   *
   * @throws ComfyValidationError when the pod answers 400; ComfyHttpError for other failures
   */
  async submit(
    workflow: Workflow,
    promptId: string,
    clientId: string,
    { extraData = {}, front = false }: QueueWorkflowOptions,
  ): Promise<QueuedPrompt> {
    const body = {
      prompt: workflow,
      client_id: clientId,
      prompt_id: promptId,
      extra_data: { ...extraData, client_id: clientId },
      ...(front ? { front: true } : {}),
    }
    const response = await this.http.request('POST', '/prompt', body)
    if (response.status === 400) {
      const rejection = promptRejectionError(response.body, promptId)
      if (rejection !== undefined) throw rejection
    }
    const accepted = this.http.decode(PromptAccepted, 'POST', '/prompt', response)
    return {
      promptId: accepted.prompt_id,
      number: accepted.number,
      nodeErrors: accepted.node_errors ?? {},
    }
  }

  /** `GET /queue`: the running prompt and the pending ones (in heap order). */
  queue(): Promise<Queue> {
    return this.http.json(Queue, 'GET', '/queue')
  }

  /** `GET /history/{id}`: the prompt's entry, or undefined while it has none. */
  async history(promptId: string): Promise<HistoryEntry | undefined> {
    const history = await this.http.json(History, 'GET', `/history/${encodeURIComponent(promptId)}`)
    return history[promptId]
  }

  /**
   * Where the prompt stands in the pod's queue, from a read shared by every job that asks within
   * a few milliseconds. With `graph`, from `GET /queue`, whose items carry the prompts' graphs.
   */
  async queueState(promptId: string, graph = false): Promise<QueueState> {
    if (graph || this.jobsApi === false) {
      this.sharedQueueIndex ??= this.afterWindow(() => {
        this.sharedQueueIndex = undefined
        return this.queue().then(indexQueue)
      })
      return (await this.sharedQueueIndex).get(promptId) ?? ABSENT
    }
    this.sharedIndex ??= this.afterWindow(() => {
      this.sharedIndex = undefined
      return this.liveIndex()
    })
    return (await this.sharedIndex).get(promptId) ?? ABSENT
  }

  /**
   * The prompt's outcome once it has left the queue, as a history entry; undefined while it has
   * none (never queued, still queued, or gone). One `GET /api/jobs/{id}` on pods with the Jobs API
   * (a 404 there means the prompt is in neither the queue nor history), else `GET /history/{id}`.
   */
  async outcome(promptId: string): Promise<HistoryEntry | undefined> {
    if (this.jobsApi !== true) return this.history(promptId)
    const job = await this.job(promptId)
    return job === undefined ? undefined : entryOf(job)
  }

  /**
   * Where the prompt stands, in one `GET /api/jobs/{id}` on pods with the Jobs API (a pending
   * prompt's position still comes from the shared queue read), else the queue read and, for a
   * prompt it no longer lists, the history (§5.14).
   */
  async lookUp(promptId: string): Promise<PromptLookup> {
    if (this.jobsApi === true) {
      const job = await this.job(promptId)
      if (job === undefined) return { queue: ABSENT, entry: undefined }
      if (job.status === 'in_progress') return { queue: { state: 'running' }, entry: undefined }
      const entry = entryOf(job)
      if (entry !== undefined) return { queue: ABSENT, entry }
    }
    const queue = await this.queueState(promptId)
    return { queue, entry: queue.state === 'absent' ? await this.outcome(promptId) : undefined }
  }

  /** `GET /api/jobs/{id}`: the job, or undefined for its 404 (in neither queue nor history). */
  private async job(promptId: string): Promise<Job | undefined> {
    const path = `/api/jobs/${encodeURIComponent(promptId)}`
    const response = await this.http.request('GET', path)
    return response.status === 404 ? undefined : this.http.decode(Job, 'GET', path, response)
  }

  /**
   * Cancels a prompt without touching anyone else's: atomically by id with the Jobs API; else
   * deleted from the queue while pending (then interrupted if it started meanwhile), interrupted
   * by prompt id while running (§5.7).
   *
   * @param seenRunning - whether this process saw the prompt start (a stale queue read may not)
   * @returns where the prompt was when cancelled; undefined if there was nothing to cancel
   */
  async cancel(promptId: string, seenRunning: boolean): Promise<CancelledPhase | undefined> {
    const found = (await this.freshIndex()).get(promptId) ?? ABSENT
    const phase = seenRunning || found.state === 'running' ? 'running' : 'pending'
    const id = encodeURIComponent(promptId)
    if (this.jobsApi === true) {
      const path = `/api/jobs/${id}/cancel`
      const answer = await this.http.json(JobCancelAnswer, 'POST', path)
      return answer.cancelled ? phase : undefined
    }
    if (found.state === 'running') {
      await this.http.send('POST', '/interrupt', { prompt_id: promptId })
      return 'running'
    }
    if (found.state === 'absent') return undefined
    await this.http.send('POST', '/queue', { delete: [promptId] })
    // A prompt that started in between is not deleted (§6): interrupt it; one that finished in
    // between has its history.
    const after = indexQueue(await this.queue()).get(promptId) ?? ABSENT
    if (after.state === 'running') {
      await this.http.send('POST', '/interrupt', { prompt_id: promptId })
      return 'running'
    }
    if (after.state === 'pending') return undefined
    return (await this.history(promptId)) === undefined ? 'pending' : undefined
  }

  /** A read of the queue made now, not shared: a cancel must see the prompt as it is. */
  private freshIndex(): Promise<QueueIndex> {
    return this.jobsApi === false ? this.queue().then(indexQueue) : this.liveIndex()
  }

  /** The pending and running jobs from the Jobs API, or `/queue` once the pod turned out not to have it. */
  private async liveIndex(): Promise<QueueIndex> {
    if (this.jobsApi === false) return indexQueue(await this.queue())
    const jobs: Job[] = []
    for (;;) {
      const path = `${LIVE_JOBS}&offset=${jobs.length}`
      const response = await this.http.request('GET', path)
      if (response.status === 404) {
        this.jobsApi = false
        return indexQueue(await this.queue())
      }
      const page = this.http.decode(JobList, 'GET', path, response)
      this.jobsApi = true
      jobs.push(...page.jobs)
      if (!page.pagination.has_more || page.jobs.length === 0) return indexJobs(jobs)
    }
  }

  private afterWindow<T>(read: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => {
      this.scheduler.schedule(resolve, QUEUE_READ_WINDOW_MS)
    }).then(read)
  }
}

/** `GET /queue` by prompt id. `queue_pending` is a heap, not sorted (§5.4): positions by number. */
function indexQueue({ queue_running, queue_pending }: Queue): QueueIndex {
  const index = new Map<string, QueueState>()
  for (const item of queue_running) index.set(item[1], { state: 'running', ...graphOf(item[2]) })
  const pending = [...queue_pending].sort((a, b) => a[0] - b[0])
  pending.forEach((item, position) =>
    index.set(item[1], { state: 'pending', position, ...graphOf(item[2]) }),
  )
  return index
}

/** The Jobs API's live jobs by id; the pending ones' positions by priority. */
function indexJobs(jobs: readonly Job[]): QueueIndex {
  const index = new Map<string, QueueState>()
  const pending: Job[] = []
  for (const job of jobs) {
    if (job.status === 'in_progress') index.set(job.id, { state: 'running' })
    else if (job.status === 'pending') pending.push(job)
  }
  pending.sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))
  pending.forEach((job, position) => index.set(job.id, { state: 'pending', position }))
  return index
}

/**
 * A finished job as the history entry the reducer takes: its outputs and history's status, or
 * one made from its status where the pod left that out. Undefined while it is not finished.
 */
function entryOf(job: Job): HistoryEntry | undefined {
  const outputs = job.outputs ?? {}
  if (job.execution_status != null) return { outputs, status: job.execution_status }
  switch (job.status) {
    case 'completed':
      return { outputs, status: { status_str: 'success', completed: true, messages: [] } }
    case 'failed':
      return {
        outputs,
        status: {
          status_str: 'error',
          completed: false,
          messages:
            job.execution_error === undefined ? [] : [['execution_error', job.execution_error]],
        },
      }
    case 'cancelled':
      return {
        outputs,
        status: {
          status_str: 'error',
          completed: false,
          messages: [['execution_interrupted', { prompt_id: job.id }]],
        },
      }
    default:
      return undefined
  }
}

function graphOf(graph: unknown): { workflow?: Workflow } {
  return isWorkflow(graph) ? { workflow: graph } : {}
}
