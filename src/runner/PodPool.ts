import {
  BehaviorSubject,
  distinctUntilChanged,
  endWith,
  exhaustMap,
  finalize,
  ignoreElements,
  map,
  merge,
  Observable,
  retry,
  Subject,
  switchMap,
  takeUntil,
  tap,
  timer,
} from 'rxjs'
import { redactUrl } from '../internal/redactUrl.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import { StatusMessage } from '../protocol/ComfyMessage.js'
import { checkPodHealth } from './checkPodHealth.js'
import type { ResolvedRunnerOptions } from './ComfyUIJobRunnerOptions.js'
import type { RunnerPod, RunnerPodStatus } from './RunnerPod.js'
import { runnerClosedError } from './runnerClosedError.js'

/** A pod of the pool, and what the pool knows of it. */
export interface PodSlot {
  readonly pod: RunnerPod
  /** Closes the pod, when the runner created it. */
  readonly close: (() => void) | undefined
  /** Asks for a health check now (the pod refused a prompt). */
  readonly recheck$: Subject<void>
  healthy: boolean
  queueRemaining: number
  inFlight: number
}

/** A job waiting for a pod. */
interface Ticket {
  /** The pod that refused the job before: never again for it. */
  readonly excluded: PodSlot | undefined
  assign(slot: PodSlot): void
  fail(error: unknown): void
}

/** What the pool takes of the runner's options. */
export type PodPoolOptions = Pick<
  ResolvedRunnerOptions,
  | 'pods'
  | 'podOptions'
  | 'clientIds'
  | 'concurrencyPerPod'
  | 'healthCheckTimeoutMs'
  | 'healthCheckIntervalMs'
  | 'podRetryMs'
  | 'scheduler'
>

/**
 * The runner's pods and their rotation. A pod is in the rotation while its health check passes
 * and its socket is open; out of it, it is checked again after `podRetryMs`. Jobs waiting for a
 * pod get, oldest first, the healthy pod with the least work (its `queue_remaining` plus the
 * runner's jobs there) that has room (`concurrencyPerPod`).
 */
export class PodPool {
  readonly slots: readonly PodSlot[]
  /** The pods' states, current ones first, then on every change. */
  readonly pods$: Observable<readonly RunnerPodStatus[]>

  private readonly options: PodPoolOptions
  private readonly waiting: Ticket[] = []
  // A BehaviorSubject: the pods' states change imperatively (dispatch, health), and pods$ must
  // replay the current value to late subscribers, as `pods` does.
  private readonly state: BehaviorSubject<readonly RunnerPodStatus[]>
  private dispatching = false
  private dispatchAgain = false

  /**
   * @param options - the runner's options the pool uses, resolved
   * @param isClosed - whether the runner is closed
   * @throws TypeError for an invalid pod URL
   */
  constructor(
    options: PodPoolOptions,
    private readonly isClosed: () => boolean,
  ) {
    const { pods, podOptions, clientIds } = options
    this.options = options
    this.slots = pods.map((given) => {
      const clientId = typeof given === 'string' ? clientIds[redactUrl(given)] : undefined
      const pod =
        typeof given === 'string'
          ? new ComfyPod(given, clientId === undefined ? podOptions : { ...podOptions, clientId })
          : undefined
      return {
        pod: pod ?? (given as RunnerPod),
        close: pod === undefined ? undefined : () => pod.close(),
        recheck$: new Subject<void>(),
        healthy: false,
        queueRemaining: 0,
        inFlight: 0,
      }
    })
    this.state = new BehaviorSubject(this.statuses())
    this.pods$ = this.state.asObservable()
  }

  /** The pods' states now. */
  get pods(): readonly RunnerPodStatus[] {
    return this.state.getValue()
  }

  /** The slot of the pod of this URL (without credentials), if it is one of the pool's. */
  slotOf(podUrl: string): PodSlot | undefined {
    return this.slots.find(({ pod }) => pod.url === podUrl)
  }

  /** Waits for a pod with room, which it reserves; gives up its place when unsubscribed. */
  slot$(excluded: PodSlot | undefined): Observable<PodSlot> {
    return new Observable<PodSlot>((subscriber) => {
      if (this.isClosed()) {
        subscriber.error(runnerClosedError())
        return
      }
      const ticket: Ticket = {
        excluded,
        assign: (slot) => {
          subscriber.next(slot)
          subscriber.complete()
        },
        fail: (error) => subscriber.error(error),
      }
      this.waiting.push(ticket)
      this.dispatch()
      return () => {
        const index = this.waiting.indexOf(ticket)
        if (index >= 0) this.waiting.splice(index, 1)
      }
    })
  }

  /** Counts a job the pool did not give out (one of the previous run) on its pod. */
  reserve(slot: PodSlot): void {
    slot.inFlight++
  }

  /** Gives back the place of an ended job, for the jobs waiting. */
  release(slot: PodSlot): void {
    slot.inFlight--
    this.dispatch()
  }

  /**
   * Keeps a pod in the rotation while its health check passes and its socket is open; takes it
   * out, and checks it again after `podRetryMs`, when either fails. Follows its `status`
   * messages for its `queue_remaining`.
   */
  watch$(slot: PodSlot): Observable<never> {
    const { healthCheckTimeoutMs, healthCheckIntervalMs, podRetryMs, scheduler } = this.options
    const { pod } = slot
    const check$ = (): Observable<void> => checkPodHealth(pod, healthCheckTimeoutMs, scheduler)
    const podClosed$ = pod.connection$.pipe(ignoreElements(), endWith(null))
    const live$ = merge(
      pod.messages$.pipe(
        tap((message) => {
          if (!StatusMessage.is(message) || !message.data.status) return
          slot.queueRemaining = message.data.status.exec_info.queue_remaining
          this.dispatch()
        }),
      ),
      pod.connection$.pipe(
        map((state) => state.state === 'open'),
        distinctUntilChanged(),
        tap((open) => {
          slot.healthy = open
          this.dispatch()
        }),
      ),
      merge(timer(healthCheckIntervalMs, healthCheckIntervalMs, scheduler), slot.recheck$).pipe(
        exhaustMap(check$),
      ),
    ).pipe(ignoreElements(), takeUntil(podClosed$))
    return check$().pipe(
      switchMap(() => live$),
      retry({
        delay: () => {
          slot.healthy = false
          this.publish()
          return timer(podRetryMs, scheduler)
        },
      }),
      finalize(() => {
        slot.healthy = false
        if (!this.isClosed()) this.publish()
      }),
    )
  }

  /** Gives waiting jobs, oldest first, to the least-loaded healthy pods with room. */
  dispatch(): void {
    // Assigning a job subscribes it, which may end another and call back in here.
    if (this.dispatching) {
      this.dispatchAgain = true
      return
    }
    this.dispatching = true
    try {
      do {
        this.dispatchAgain = false
        for (const ticket of [...this.waiting]) {
          const slot = this.leastLoaded(ticket.excluded)
          if (slot === undefined) continue
          const index = this.waiting.indexOf(ticket)
          if (index < 0) continue
          this.waiting.splice(index, 1)
          slot.inFlight++
          ticket.assign(slot)
        }
      } while (this.dispatchAgain)
    } finally {
      this.dispatching = false
    }
    this.publish()
  }

  /** Publishes the pods' states on `pods$`. */
  publish(): void {
    if (!this.state.closed) this.state.next(this.statuses())
  }

  /**
   * Fails the jobs still waiting for a pod, takes every pod out of the rotation, closes the pods
   * the pool created, and completes `pods$`. Called once the pods are no longer watched.
   */
  close(): void {
    for (const ticket of this.waiting.splice(0)) ticket.fail(runnerClosedError())
    for (const slot of this.slots) {
      slot.healthy = false
      slot.recheck$.complete()
      slot.close?.()
    }
    this.publish()
    this.state.complete()
  }

  private leastLoaded(excluded: PodSlot | undefined): PodSlot | undefined {
    const { concurrencyPerPod } = this.options
    let best: PodSlot | undefined
    for (const slot of this.slots) {
      if (!slot.healthy || slot === excluded || slot.inFlight >= concurrencyPerPod) continue
      if (best === undefined || load(slot) < load(best)) best = slot
    }
    return best
  }

  private statuses(): readonly RunnerPodStatus[] {
    return this.slots.map(({ pod, healthy, queueRemaining, inFlight }) => ({
      url: pod.url,
      clientId: pod.clientId,
      healthy,
      queueRemaining,
      inFlight,
    }))
  }
}

function load(slot: PodSlot): number {
  return slot.queueRemaining + slot.inFlight
}
