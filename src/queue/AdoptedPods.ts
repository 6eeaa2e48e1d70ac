import { defer, finalize, type Observable, throwError } from 'rxjs'
import type { CancelledPhase } from '../errors/ComfyCancelledError.js'
import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { TrackPromptOptions } from '../job/TrackPromptOptions.js'
import { ComfyPod } from '../pod/ComfyPod.js'
import type { ComfyPodOptions } from '../pod/ComfyPodOptions.js'
import type { PromptTarget } from '../runner/ComfyUIJobRunnerOptions.js'

/** A pod of the worker: the URL it was given (credentials included), and its own `ComfyPod`. */
export interface WorkerPod {
  readonly url: string
  readonly pod: ComfyPod
}

interface Adopted {
  readonly pod: ComfyPod
  users: number
}

/**
 * @internal The pods a worker follows prompts of other workers on: one `ComfyPod` per pod and
 * clientId of a dead worker, so that the prompts it queued are followed live over the socket
 * (ComfyUI sends a prompt's progress to the clientId it was queued under), closed once their
 * last prompt ended. A prompt of this worker's own clientId is followed on its own pod.
 */
export class AdoptedPods {
  private readonly adopted = new Map<string, Adopted>()
  private readonly byUrl: ReadonlyMap<string, WorkerPod>

  constructor(
    pods: readonly WorkerPod[],
    private readonly podOptions: Omit<ComfyPodOptions, 'clientId' | 'costModel'>,
  ) {
    this.byUrl = new Map(pods.map((pod) => [pod.pod.url, pod]))
  }

  /**
   * Follows a prompt queued on one of the worker's pods under `target.clientId`.
   *
   * @returns its events (`ComfyPromptLostError` when the pod has it neither queued nor in
   *   history); `ComfyConnectionError` (`pod_removed`) when the pod is not one of the worker's
   */
  track$(target: PromptTarget, options: TrackPromptOptions): Observable<JobEvent> {
    return defer(() => {
      const pod = this.acquire(target)
      if (pod === undefined) return throwError(() => notMine(target))
      return pod.track$(target.promptId, options).pipe(finalize(() => this.release(target)))
    })
  }

  /** Cancels a prompt on its pod; see `ComfyPod.cancel`. */
  async cancel(target: PromptTarget): Promise<CancelledPhase | undefined> {
    const pod = this.acquire(target)
    if (pod === undefined) throw notMine(target)
    try {
      return await pod.cancel(target.promptId)
    } finally {
      this.release(target)
    }
  }

  /** Closes the pods adopted and not released (their prompts fail with `pod_closed`). */
  close(): void {
    for (const { pod } of this.adopted.values()) pod.close()
    this.adopted.clear()
  }

  private acquire({ podUrl, clientId }: PromptTarget): ComfyPod | undefined {
    const own = this.byUrl.get(podUrl)
    if (own === undefined) return undefined
    if (own.pod.clientId === clientId) return own.pod
    const key = `${clientId} ${podUrl}`
    let adopted = this.adopted.get(key)
    if (adopted === undefined) {
      const options = { ...this.podOptions, clientId, costModel: own.pod.costModel }
      adopted = { pod: new ComfyPod(own.url, options), users: 0 }
      this.adopted.set(key, adopted)
    }
    adopted.users++
    return adopted.pod
  }

  private release({ podUrl, clientId }: PromptTarget): void {
    const key = `${clientId} ${podUrl}`
    const adopted = this.adopted.get(key)
    if (adopted === undefined || --adopted.users > 0) return
    this.adopted.delete(key)
    adopted.pod.close()
  }
}

function notMine({ promptId, podUrl }: PromptTarget): ComfyConnectionError {
  return new ComfyConnectionError(
    `the pod of prompt ${promptId} is not one of this worker's`,
    podUrl,
    'pod_removed',
  )
}
