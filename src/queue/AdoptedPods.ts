import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import {
  defer,
  finalize,
  from,
  interval,
  type Observable,
  type Subscription,
  switchMap,
  throwError,
} from 'rxjs'
import type { CancelledPhase } from '../errors/ComfyCancelledError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import type { PromptTarget } from '../runner/ComfyUIJobRunnerOptions.js'
import { adoptionKey } from './queueKeys.js'
import type { ResolvedQueueOptions } from './QueueOptions.js'

/** A pod of the worker: the URL it was given (credentials included), and its own `ComfyPod`. */
export interface WorkerPod {
  readonly url: string
  readonly pod: ComfyPod
}

/** What adopting pods takes. */
export interface AdoptionOptions {
  readonly pods: readonly WorkerPod[]
  readonly podOptions: Omit<ComfyPodOptions, 'clientId' | 'costModel'>
  /** Commands: the adoption leases. */
  readonly redis: Redis
  readonly names: Pick<ResolvedQueueOptions, 'prefix' | 'name'>
  /** How long an adoption lasts without renewal (renewed at a third of it). */
  readonly leaseMs: number
}

interface Adopted {
  readonly pod: ComfyPod
  readonly key: string
  readonly renewal: Subscription
  users: number
}

/** How a prompt is followed: on which pod, and whether over its socket. */
interface Follow {
  readonly pod: ComfyPod
  readonly socket: boolean
  readonly release: () => void
}

/** Deletes an adoption key if it is still this worker's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/**
 * @internal The pods a worker follows prompts of other workers on. ComfyUI sends a prompt's
 * progress to the clientId it was queued under and keeps one socket per clientId: so one worker
 * of the fleet at a time (an adoption lease in Redis, renewed while it follows) opens a `ComfyPod`
 * under a dead worker's clientId, follows that worker's prompts on the pod live over the socket,
 * and closes it once their last prompt ended; the others follow theirs over REST. A prompt of
 * this worker's own clientId is followed on its own pod.
 */
export class AdoptedPods {
  private readonly adopted = new Map<string, Adopted>()
  private readonly byUrl: ReadonlyMap<string, WorkerPod>
  /** This worker's mark on the adoption leases it holds. */
  private readonly holder = randomUUID()

  constructor(private readonly options: AdoptionOptions) {
    this.byUrl = new Map(options.pods.map((pod) => [pod.pod.url, pod]))
  }

  /**
   * Follows a prompt queued on one of the worker's pods under `target.clientId`: live when this
   * worker holds (or takes) the adoption of that clientId on the pod, over REST otherwise.
   *
   * @returns its events (`ComfyPromptLostError` when the pod has it neither queued nor in
   *   history); `ComfyConnectionError` (`pod_removed`) when the pod is not one of the worker's
   */
  track$(target: PromptTarget, options: TrackPromptOptions): Observable<JobEvent> {
    return defer(() => {
      const own = this.byUrl.get(target.podUrl)
      if (own === undefined) return throwError(() => notMine(target))
      return from(this.follow(own, target)).pipe(
        switchMap(({ pod, socket, release }) =>
          pod
            .track$(target.promptId, socket ? options : { ...options, socket: false })
            .pipe(finalize(release)),
        ),
      )
    })
  }

  /** Cancels a prompt on its pod (REST: any clientId will do); see `ComfyPod.cancel`. */
  async cancel(target: PromptTarget): Promise<CancelledPhase | undefined> {
    const own = this.byUrl.get(target.podUrl)
    if (own === undefined) throw notMine(target)
    return own.pod.cancel(target.promptId)
  }

  /** Closes the pods adopted and not released (their prompts fail with `pod_closed`). */
  close(): void {
    for (const adopted of this.adopted.values()) this.drop(adopted)
    this.adopted.clear()
  }

  private async follow(own: WorkerPod, { podUrl, clientId }: PromptTarget): Promise<Follow> {
    const mine: Follow = { pod: own.pod, socket: true, release: () => {} }
    if (own.pod.clientId === clientId) return mine
    const key = adoptionKey(this.options.names, podUrl, clientId)
    let adopted = this.adopted.get(key)
    if (adopted === undefined) {
      const { redis, leaseMs, podOptions } = this.options
      const taken = await redis.set(key, this.holder, 'PX', leaseMs, 'NX')
      // Adopted meanwhile by another job of this worker, or held by another worker.
      adopted = this.adopted.get(key)
      if (adopted === undefined && taken !== 'OK')
        return { pod: own.pod, socket: false, release: () => {} }
      adopted ??= {
        pod: new ComfyPod(own.url, { ...podOptions, clientId, costModel: own.pod.costModel }),
        key,
        renewal: interval(leaseMs / 3).subscribe(() => {
          redis.pexpire(key, leaseMs).catch(() => {})
        }),
        users: 0,
      }
      this.adopted.set(key, adopted)
    }
    const held = adopted
    held.users++
    return {
      pod: held.pod,
      socket: true,
      release: () => {
        if (--held.users > 0 || this.adopted.get(key) !== held) return
        this.adopted.delete(key)
        this.drop(held)
      },
    }
  }

  private drop(adopted: Adopted): void {
    adopted.renewal.unsubscribe()
    adopted.pod.close()
    this.options.redis.eval(RELEASE, 1, adopted.key, this.holder).catch(() => {})
  }
}

function notMine({ promptId, podUrl }: PromptTarget): ComfyConnectionError {
  return new ComfyConnectionError(
    `the pod of prompt ${promptId} is not one of this worker's`,
    podUrl,
    'pod_removed',
  )
}
