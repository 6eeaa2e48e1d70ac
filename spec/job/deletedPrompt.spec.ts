import { BehaviorSubject, map, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyCancelledError,
  ComfyPromptLostError,
  type JobEvent,
  type PodMessage,
} from '../../src/index.js'
import { executeWorkflow } from '../../src/job/executeWorkflow.js'
import type { QueueState } from '../../src/job/JobState.js'
import { oneNodeWorkflow as workflow, open } from '../support/jobFixtures.js'
import { fakeJobContext } from '../support/fakeJobContext.js'
import { msg } from '../support/messages.js'

const P = '00000000-0000-4000-8000-000000000001'
const status = (remaining: number) =>
  msg('status', { status: { exec_info: { queue_remaining: remaining } } })

/** A pending job with the default options on a pod whose queue loses the prompt at `deletedAt`. */
function pendingJob(scheduler: TestScheduler, messages: string, deletedAt: number) {
  const calls = { queue: [] as number[], history: [] as number[] }
  const context = fakeJobContext(scheduler, {
    messages$: scheduler.createHotObservable<PodMessage>(messages, {
      a: status(3),
      b: status(2),
      c: status(1),
    }),
    connection$: new BehaviorSubject(open),
    queueState: () => (
      calls.queue.push(scheduler.now()),
      of<QueueState>(
        scheduler.now() >= deletedAt ? { state: 'absent' } : { state: 'pending', position: 1 },
      )
    ),
    getHistory: () => (calls.history.push(scheduler.now()), of(undefined)),
  })
  const events$ = executeWorkflow(context, () => of({ promptId: P }), workflow, {
    promptId: P,
  }).pipe(map((event: JobEvent) => event.type))
  return { events$, calls, context }
}

describe('a pending prompt deleted from the queue, in virtual time with the default options', () => {
  it('is noticed from the status that shrank the queue, and lost one poll interval later', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ expectObservable, flush }) => {
      // Another client deletes the prompt at 3000; ComfyUI's only word is the shorter queue.
      const { events$, calls } = pendingJob(scheduler, 'a 2999ms b', 3000)
      expectObservable(events$).toBe('q 3999ms #', { q: 'queued' }, new ComfyPromptLostError(P))
      flush()
      // The courtesy position at 0; the status at 3000 sets off a round; confirmed at 4000.
      expect(calls.queue).toEqual([0, 3000, 4000])
      expect(calls.history).toEqual([3000, 4000])
    })
  })

  it('is not looked for while the queue only grows', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ flush }) => {
      const { events$, calls } = pendingJob(scheduler, 'c 999ms b 999ms a', Infinity)
      const subscription = events$.subscribe()
      scheduler.schedule(() => subscription.unsubscribe(), 10_000)
      flush()
      expect(calls.queue).toEqual([0])
    })
  })

  it('ends at once as cancelled when this process cancelled it on the pod', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b))
    scheduler.run(({ expectObservable }) => {
      const { events$, context } = pendingJob(scheduler, 'a', Infinity)
      scheduler.schedule(() => context.prompts.cancelled(P, 'pending'), 700)
      expectObservable(events$).toBe(
        'q 699ms #',
        { q: 'queued' },
        new ComfyCancelledError(P, 'pending'),
      )
    })
  })
})
