import type { Observable, ObservableInput } from 'rxjs'
import type { ExecuteWorkflowOptions } from '../job/ExecuteWorkflowOptions.js'
import type { JobEvent } from '../job/JobEvent.js'
import type { Workflow } from '../job/Workflow.js'
import type { PodMessage } from '../protocol/decodeFrame.js'
import type { ConnectionState } from '../socket/ConnectionState.js'

/**
 * What the runner uses of a pod: a `ComfyPod`, or anything shaped like one (`getSystemStats` may
 * return any `ObservableInput`, so that tests run the runner in virtual time).
 */
export interface RunnerPod {
  /** The pod's URL, without credentials. */
  readonly url: string
  readonly clientId: string
  readonly messages$: Observable<PodMessage>
  readonly connection$: Observable<ConnectionState>
  executeWorkflow$(workflow: Workflow, options?: ExecuteWorkflowOptions): Observable<JobEvent>
  getSystemStats(): ObservableInput<unknown>
}

/** A pod as the runner sees it. */
export interface RunnerPodStatus {
  /** The pod's URL, without credentials. */
  readonly url: string
  readonly clientId: string
  /** In the rotation: its health check passed and its socket is open. */
  readonly healthy: boolean
  /** `queue_remaining` of its last `status` message (pending + running, anyone's). */
  readonly queueRemaining: number
  /** Jobs of this runner sent there and not ended. */
  readonly inFlight: number
}
