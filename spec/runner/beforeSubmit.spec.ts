import { concat, defer, map, NEVER, type Observable, type ObservableInput, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyHttpError,
  type ExecuteWorkflowOptions,
  type JobEvent,
  type Workflow,
} from '../../src/index.js'
import { ComfyTimeoutError } from '../../src/errors/ComfyTimeoutError.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import type { PromptTarget } from '../../src/runner/ComfyUIJobRunnerOptions.js'
import type { RunnerPod } from '../../src/runner/RunnerPod.js'
import { completed, queued } from '../analytics/jobEvents.js'
import { open } from '../support/jobFixtures.js'

const workflow: Workflow = { '1': { class_type: 'EmptyImage', inputs: {} } }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

interface FakePod extends RunnerPod {
  /** Its jobs, one per subscription to `executeWorkflow$`, in order. */
  readonly jobs: Observable<JobEvent>[]
  /** The options of each job sent to it (each `POST /prompt`), when it was sent. */
  readonly sent: { readonly at: number; readonly options: ExecuteWorkflowOptions }[]
}

/** A healthy pod, always open, whose jobs are the test's Observables. */
function fakePod(name: string, scheduler: TestScheduler): FakePod {
  const jobs: Observable<JobEvent>[] = []
  const sent: FakePod['sent'] = []
  return {
    url: `http://${name}/`,
    clientId: `client-${name}`,
    jobs,
    sent,
    connection$: concat(of(open), NEVER),
    messages$: NEVER,
    getSystemStats: () => of({ system: {}, devices: [] }),
    // Cold, as a pod's jobs are: nothing is posted until subscription.
    executeWorkflow$: (_workflow, options = {}) =>
      defer(() => {
        sent.push({ at: scheduler.now(), options })
        return jobs.shift() ?? NEVER
      }),
  }
}

/** A runner on fake pods in virtual time, closed at `closeAt` so that its interval stops. */
function runnerOf(
  scheduler: TestScheduler,
  pods: readonly RunnerPod[],
  concurrencyPerPod = 2,
  closeAt = 1000,
): ComfyUIJobRunner {
  const runner = new ComfyUIJobRunner({
    pods,
    concurrencyPerPod,
    healthCheckTimeoutMs: 10,
    healthCheckIntervalMs: 100,
    podRetryMs: 50,
    scheduler,
  })
  scheduler.schedule(() => runner.close(), closeAt)
  return runner
}

/** A `POST /prompt` the pod refused before it took the prompt (see `isUnsentPrompt`). */
function refusedPost(url: string): ComfyHttpError {
  const cause = new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  })
  return new ComfyHttpError(`POST ${url}prompt failed`, 'POST', `${url}prompt`, 0, undefined, {
    cause,
  })
}

describe('ComfyUIJobRunner beforeSubmit', () => {
  it('sends the job once the Observable of beforeSubmit completes, ignoring its values', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('p'), w: completed('p') }
      pod.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod])
      const job$ = runner.run$(workflow, {
        promptId: 'p',
        beforeSubmit: () => cold('-x--|', { x: 'recorded' }),
      })
      expectObservable(job$).toBe('-----q-w|', events)
      scheduler.schedule(() => expect(pod.sent).toEqual([]), 3)
      scheduler.schedule(() => expect(pod.sent.map((post) => post.at)).toEqual([4]), 999)
    })
  })

  it('sends the job at once when beforeSubmit returns nothing or an empty Observable', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('p'), w: completed('p') }
      pod.jobs.push(cold('-q-w|', events), cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod])
      expectObservable(runner.run$(workflow, { beforeSubmit: () => undefined })).toBe(
        '-q-w|',
        events,
      )
      expectObservable(runner.run$(workflow, { beforeSubmit: () => cold('|') })).toBe(
        '-q-w|',
        events,
      )
    })
  })

  it('holds the job and its place on the pod while beforeSubmit has not completed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('p'), w: completed('p') }
      pod.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod], 1)
      // The first job's beforeSubmit never completes: the pod's one place stays taken.
      expectObservable(runner.run$(workflow, { beforeSubmit: () => NEVER }), '^ 19ms !').toBe('')
      // Unsubscribed at 20, it gives its place to the second job.
      expectObservable(runner.run$(workflow)).toBe('20ms -q-w|', events)
      scheduler.schedule(() => expect(pod.sent).toHaveLength(0), 19)
      scheduler.schedule(() => expect(pod.sent.map((post) => post.at)).toEqual([20]), 999)
    })
  })

  it("counts the wait for beforeSubmit in the job's timeoutMs (default 30 minutes)", () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const runner = runnerOf(scheduler, [pod])
      expectObservable(runner.run$(workflow, { beforeSubmit: () => NEVER })).toBe(
        '1800000ms #',
        {},
        new ComfyTimeoutError(undefined, 1_800_000),
      )
      scheduler.schedule(() => expect(pod.sent).toHaveLength(0), 1_800_001)
    })
  })

  it('passes the job its promptId, the pod its url and clientId, and posts that promptId', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('order-42'), w: completed('order-42') }
      pod.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod])
      const targets: PromptTarget[] = []
      const beforeSubmit = (target: PromptTarget): ObservableInput<unknown> => {
        targets.push(target)
        return cold('--|')
      }
      expectObservable(runner.run$(workflow, { promptId: 'order-42', beforeSubmit })).toBe(
        '---q-w|',
        events,
      )
      scheduler.schedule(() => {
        expect(targets).toEqual([
          { promptId: 'order-42', podUrl: 'http://a/', clientId: 'client-a' },
        ])
        expect(pod.sent.map((post) => post.options.promptId)).toEqual(['order-42'])
      }, 999)
    })
  })

  it('gives a job without a promptId a new UUID, passed to beforeSubmit and posted', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      pod.jobs.push(cold('-q|', { q: queued('p') }))
      const runner = runnerOf(scheduler, [pod])
      const targets: PromptTarget[] = []
      const job$ = runner.run$(workflow, { beforeSubmit: (target) => void targets.push(target) })
      expectObservable(job$.pipe(map((event) => event.type))).toBe('-q|', { q: 'queued' })
      scheduler.schedule(() => {
        expect(targets).toHaveLength(1)
        expect(targets[0]!.promptId).toMatch(UUID)
        expect(pod.sent.map((post) => post.options.promptId)).toEqual([targets[0]!.promptId])
      }, 999)
    })
  })

  it('fails the job with the error beforeSubmit throws or emits, sending nothing', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('p'), w: completed('p') }
      pod.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod], 1)
      const thrown = new Error('redis is down')
      const emitted = new Error('the job was taken over')
      const throwing = (): never => {
        throw thrown
      }
      expectObservable(runner.run$(workflow, { beforeSubmit: throwing })).toBe('#', {}, thrown)
      expectObservable(
        runner.run$(workflow, { beforeSubmit: () => cold('--#', {}, emitted) }),
      ).toBe('--#', {}, emitted)
      // Neither kept the pod's one place: a third job goes at once after them.
      expectObservable(runner.run$(workflow)).toBe('---q-w|', events)
      scheduler.schedule(() => expect(pod.sent.map((post) => post.at)).toEqual([2]), 999)
    })
  })

  it('sends nothing when the job is unsubscribed while beforeSubmit runs, and frees its place', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a', scheduler)
      const events = { q: queued('p'), w: completed('p') }
      pod.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [pod], 1)
      expectObservable(runner.run$(workflow, { beforeSubmit: () => cold('-----|') }), '^-!').toBe(
        '',
      )
      expectObservable(runner.run$(workflow)).toBe('---q-w|', events)
      // Only the second job was posted, at 2: the first's beforeSubmit would have ended at 5.
      scheduler.schedule(() => expect(pod.sent.map((post) => post.at)).toEqual([2]), 999)
    })
  })

  it('calls beforeSubmit again with the other pod and the same promptId after a refusal', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const a = fakePod('a', scheduler)
      const b = fakePod('b', scheduler)
      a.jobs.push(cold('-#', {}, refusedPost(a.url)))
      const events = { q: queued('p'), w: completed('p') }
      b.jobs.push(cold('-q-w|', events))
      const runner = runnerOf(scheduler, [a, b])
      const targets: { readonly at: number; readonly target: PromptTarget }[] = []
      const beforeSubmit = (target: PromptTarget): ObservableInput<unknown> => {
        targets.push({ at: scheduler.now(), target })
        return cold('--|')
      }
      // a: beforeSubmit 0–2, refused at 3; b: beforeSubmit 3–5, posted at 5.
      expectObservable(runner.run$(workflow, { beforeSubmit })).toBe('------q-w|', events)
      scheduler.schedule(() => {
        const promptId = targets[0]?.target.promptId
        expect(promptId).toMatch(UUID)
        expect(targets).toEqual([
          { at: 0, target: { promptId, podUrl: 'http://a/', clientId: 'client-a' } },
          { at: 3, target: { promptId, podUrl: 'http://b/', clientId: 'client-b' } },
        ])
        expect(a.sent.map((post) => [post.at, post.options.promptId])).toEqual([[2, promptId]])
        expect(b.sent.map((post) => [post.at, post.options.promptId])).toEqual([[5, promptId]])
      }, 999)
    })
  })

  it('keeps a given promptId on the other pod when a pod refused the job', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const a = fakePod('a', scheduler)
      const b = fakePod('b', scheduler)
      a.jobs.push(cold('#', {}, refusedPost(a.url)))
      b.jobs.push(cold('q|', { q: queued('order-7') }))
      const runner = runnerOf(scheduler, [a, b])
      const targets: PromptTarget[] = []
      const job$ = runner.run$(workflow, {
        promptId: 'order-7',
        beforeSubmit: (target) => void targets.push(target),
      })
      expectObservable(job$).toBe('q|', { q: queued('order-7') })
      scheduler.schedule(() => {
        expect(targets.map((target) => [target.podUrl, target.promptId])).toEqual([
          ['http://a/', 'order-7'],
          ['http://b/', 'order-7'],
        ])
        expect([...a.sent, ...b.sent].map((post) => post.options.promptId)).toEqual([
          'order-7',
          'order-7',
        ])
      }, 999)
    })
  })

  it('calls beforeSubmit once when the pod may have taken the job (a reset)', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const a = fakePod('a', scheduler)
      const b = fakePod('b', scheduler)
      // A reset: the pod may have taken the prompt, so the job is never sent elsewhere.
      const reset = new ComfyHttpError('POST failed', 'POST', 'http://a/prompt', 0)
      a.jobs.push(cold('-#', {}, reset))
      const runner = runnerOf(scheduler, [a, b])
      const targets: PromptTarget[] = []
      const job$ = runner.run$(workflow, { beforeSubmit: (target) => void targets.push(target) })
      expectObservable(job$).toBe('-#', {}, reset)
      scheduler.schedule(() => {
        expect(targets.map((target) => target.podUrl)).toEqual(['http://a/'])
        expect(b.sent).toEqual([])
      }, 999)
    })
  })

  it('rejects a beforeSubmit that is not a function with a TypeError naming it', () => {
    const scheduler = testScheduler()
    scheduler.run(() => {
      const runner = runnerOf(scheduler, [fakePod('a', scheduler)])
      expect(() => runner.run$(workflow, { beforeSubmit: 42 as never })).toThrow(
        new TypeError('beforeSubmit must be a function, received 42'),
      )
      expect(() => runner.submit(workflow, { beforeSubmit: 'x' as never })).toThrow(TypeError)
    })
  })
})

describe('ComfyUIJobRunner beforeSubmit returning a promise', () => {
  // Promises settle in microtasks, outside virtual time: the scheduler is flushed by hand.
  async function runWithPromise(hook: () => Promise<void>) {
    const scheduler = testScheduler()
    const pod = fakePod('a', scheduler)
    pod.jobs.push(of(queued('p'), completed('p')))
    const runner = runnerOf(scheduler, [pod], 2, 500)
    const seen: string[] = []
    let failure: unknown
    runner.run$(workflow, { beforeSubmit: hook }).subscribe({
      next: (event) => seen.push(event.type),
      error: (error: unknown) => (failure = error),
    })
    scheduler.flush()
    return { pod, seen, failure: () => failure, scheduler }
  }

  it('sends the job only once the promise resolved', async () => {
    let resolve = (): void => {}
    const settled = new Promise<void>((done) => (resolve = done))
    const { pod, seen } = await runWithPromise(() => settled)
    await Promise.resolve()
    expect(pod.sent).toEqual([])
    resolve()
    await settled
    await Promise.resolve()
    expect(pod.sent).toHaveLength(1)
    expect(seen).toEqual(['queued', 'completed'])
  })

  it('fails the job with the rejection, sending nothing', async () => {
    const rejection = new Error('redis is down')
    const { pod, failure } = await runWithPromise(() => Promise.reject(rejection))
    await new Promise((resolve) => setImmediate(resolve))
    expect(failure()).toBe(rejection)
    expect(pod.sent).toEqual([])
  })
})
