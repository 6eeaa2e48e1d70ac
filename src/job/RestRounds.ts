import {
  catchError,
  concat,
  defer,
  EMPTY,
  map,
  mergeMap,
  type Observable,
  of,
  repeat,
  switchMap,
  tap,
  throwError,
  timer,
} from 'rxjs'
import { isFatalError } from '../errors/isFatalError.js'
import type { JobMethod } from './ComfyUIJobResult.js'
import type { JobSettings } from './JobSettings.js'
import type { JobContext } from './JobContext.js'
import type { JobInput } from './JobState.js'

const MAX_POLL_INTERVAL_MS = 30_000

/**
 * A job's REST side, as Observables of reducer inputs: the pod's queue and history, a full round
 * (§5.14), polling rounds, and the rounds each of the job's REST activities (`RestWork`) runs.
 */
export class RestRounds {
  constructor(
    private readonly context: JobContext,
    private readonly settings: JobSettings,
    /** Its job: the prompt's id when a call starts, and whether the graph is still needed. */
    private readonly job: {
      currentPromptId(): string
      needsGraph(): boolean
    },
  ) {}

  /** The prompt's outcome (`GET /history/{id}`, or the Jobs API's), as the reducer takes it. */
  history$(source: JobMethod): Observable<JobInput> {
    return defer(() => this.context.getHistory(this.job.currentPromptId())).pipe(
      map((entry): JobInput => ({
        kind: 'history',
        at: this.context.scheduler.now(),
        source,
        entry,
      })),
    )
  }

  /**
   * After `executing {node: null}`, the socket's last word, when the socket may not have given
   * every output: history confirms (§3.7); a history that cannot be read completes the job from
   * what the socket said.
   */
  confirm$(): Observable<JobInput> {
    return this.history$('websocket').pipe(
      catchError((error: unknown) =>
        isFatalError(error)
          ? throwError(() => error)
          : of<JobInput>({
              kind: 'history',
              at: this.context.scheduler.now(),
              source: 'websocket',
              entry: undefined,
            }),
      ),
    )
  }

  /**
   * Right after the pod accepted the prompt: where a prompt queued earlier stands (it may be
   * anywhere, finished or gone: a full round tells), or a new prompt's position, a courtesy
   * (without it `queued` comes with the start).
   */
  catchUp$(queuedEarlier: boolean): Observable<JobInput> {
    return queuedEarlier
      ? this.reconcile$()
      : this.queue$('websocket').pipe(catchError(() => EMPTY))
  }

  /** One round whose failure a later one may get past: after a reopen, or a shorter queue. */
  reconcile$(): Observable<JobInput> {
    return this.round$().pipe(catchError(nonFatal))
  }

  /**
   * The watchdog's look at a silent job: a round, and `reconnect` when the prompt runs while the
   * whole socket has been silent for `stallTimeoutMs` (silent de-registration, §6).
   */
  watch$(reconnect: () => void): Observable<JobInput> {
    const { stallTimeoutMs } = this.settings
    return this.round$().pipe(
      tap((input) => {
        const silentFor = this.context.scheduler.now() - this.context.lastMessageAt()
        const running = input.kind === 'queue' && input.queue.state === 'running'
        if (running && silentFor >= stallTimeoutMs) reconnect()
      }),
      catchError(nonFatal),
    )
  }

  /** Where the pod's queue puts the prompt, as the reducer takes it. */
  queue$(source: JobMethod): Observable<JobInput> {
    return defer(() =>
      this.context.queueState(this.job.currentPromptId(), this.job.needsGraph()),
    ).pipe(
      map((queue): JobInput => ({
        kind: 'queue',
        at: this.context.scheduler.now(),
        source,
        queue,
      })),
    )
  }

  /**
   * Where the prompt stands: `GET /queue` first; only a prompt no longer listed is looked for in
   * history (§5.14: it moves from the queue to history atomically, so a listed prompt has none).
   * A prompt found in neither is looked for once more, `pollIntervalMs` later (`lookUp$`), before
   * it is declared lost (with `confirm`; polling rounds are that second look themselves).
   */
  round$(confirm = true): Observable<JobInput> {
    const { pollIntervalMs } = this.settings
    return this.queue$('rest_polling').pipe(
      mergeMap((queued) =>
        queued.kind !== 'queue' || queued.queue.state !== 'absent'
          ? of(queued)
          : concat(
              of(queued),
              this.history$('rest_polling').pipe(
                mergeMap((found) =>
                  confirm && found.kind === 'history' && found.entry === undefined
                    ? concat(
                        of(found),
                        timer(pollIntervalMs, this.context.scheduler).pipe(
                          switchMap(() => this.lookUp$()),
                        ),
                      )
                    : of(found),
                ),
              ),
            ),
      ),
    )
  }

  /**
   * The second look of the lost-prompt check: one request where the pod has the Jobs API, else
   * a round of its own.
   */
  lookUp$(): Observable<JobInput> {
    return defer(() => this.context.lookUp(this.job.currentPromptId())).pipe(
      mergeMap(({ queue, entry }): Observable<JobInput> => {
        const at = this.context.scheduler.now()
        const queued: JobInput = { kind: 'queue', at, source: 'rest_polling', queue }
        const found: JobInput = { kind: 'history', at, source: 'rest_polling', entry }
        return queue.state === 'absent' ? of(queued, found) : of(queued)
      }),
    )
  }

  /**
   * REST rounds, the first at once, then on the pod-wide grid of `pollIntervalMs` (so that the
   * jobs of a pod poll in the same tick and share their `GET /queue`): the first tick at least
   * half an interval after the start of the round before, so that rounds come every
   * `pollIntervalMs` once on the grid, and the first within 1.5 of it. After a failed round the
   * wait doubles (up to 30 s), ticks skipped, until the pod answers again.
   */
  pollRounds$(): Observable<JobInput> {
    const { pollIntervalMs } = this.settings
    const { scheduler } = this.context
    let failures = 0
    let startedAt = 0
    return defer(() => {
      startedAt = scheduler.now()
      return this.round$(false)
    }).pipe(
      tap({ complete: () => (failures = 0) }),
      catchError((error: unknown) => {
        failures++
        return nonFatal(error)
      }),
      repeat({
        delay: () => {
          const wait = Math.min(pollIntervalMs * 2 ** failures, MAX_POLL_INTERVAL_MS)
          const now = scheduler.now()
          const next = Math.max(
            onGrid(startedAt + wait - pollIntervalMs / 2, pollIntervalMs),
            onGrid(now, pollIntervalMs),
          )
          return timer(next - now, scheduler)
        },
      }),
    )
  }
}

/** Swallows a REST failure that a later round may get past; rethrows what none will. */
export function nonFatal(error: unknown): Observable<never> {
  return isFatalError(error) ? throwError(() => error) : EMPTY
}

/**
 * The first multiple of `interval` at or after `time`: times on a grid shared by all jobs. An
 * infinite interval (an option set to `Infinity`) makes no grid.
 */
export function onGrid(time: number, interval: number): number {
  return Number.isFinite(interval) ? Math.ceil(time / interval) * interval : time
}
