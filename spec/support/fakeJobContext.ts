import { EMPTY, from, map, mergeMap, type Observable, of } from 'rxjs'
import type { TestScheduler } from 'rxjs/testing'
import { ComfyConnectionError, type ConnectionState, type PodMessage } from '../../src/index.js'
import { AlarmClock } from '../../src/job/AlarmClock.js'
import { CostModel } from '../../src/job/CostModel.js'
import { FollowedPrompts } from '../../src/job/FollowedPrompts.js'
import type { JobContext } from '../../src/job/JobContext.js'
import { resolvePodOptions } from '../../src/pod/ComfyPodOptions.js'
import { MessageHub } from '../../src/socket/MessageHub.js'

/** What a fake pod is made of: its streams, and any of the job context's effects. */
export interface FakePod extends Partial<Omit<JobContext, 'scheduler'>> {
  readonly messages$: Observable<PodMessage>
  readonly connection$?: Observable<ConnectionState>
}

/**
 * A job context over scripted streams in virtual time: the real `MessageHub` routes the
 * messages and relays the states, as in a pod; REST answers default to a pending prompt with no
 * history.
 */
export function fakeJobContext(
  scheduler: TestScheduler,
  fake: FakePod,
): JobContext & { readonly hub: MessageHub } {
  const { messages$, connection$ = of({ state: 'open', connectTimeMs: 1 }), ...effects } = fake
  const hub = new MessageHub({
    messages$,
    connection$,
    scheduler,
    retryMs: 1000,
    graceMs: resolvePodOptions({}).socketGraceMs,
    closedError: () => new ComfyConnectionError('the pod is closed', 'ws://pod/ws', 'pod_closed'),
  })
  const context: JobContext & { readonly hub: MessageHub } = {
    hub,
    scheduler,
    alarms: new AlarmClock(scheduler),
    costModel: new CostModel(),
    prompts: new FollowedPrompts(),
    newPromptId: () => 'p1',
    attach: (listener) => hub.attach(listener),
    detach: (listener) => hub.detach(listener),
    route: (promptId, listener) => hub.route(promptId, listener),
    unroute: (promptId, listener) => hub.unroute(promptId, listener),
    reconnect: () => undefined,
    lastMessageAt: () => hub.lastMessageAt(),
    queueState: () => of({ state: 'pending', position: 0 }),
    getHistory: () => of(undefined),
    // As a pod without the Jobs API: the queue read, then history for a prompt it no longer lists.
    lookUp: (promptId) =>
      from(context.queueState(promptId)).pipe(
        mergeMap((queue) =>
          queue.state === 'absent'
            ? from(context.getHistory(promptId)).pipe(map((entry) => ({ queue, entry })))
            : of({ queue, entry: undefined }),
        ),
      ),
    cancel: () => EMPTY,
    viewUrl: () => 'http://pod/view',
    ...effects,
  }
  return context
}
