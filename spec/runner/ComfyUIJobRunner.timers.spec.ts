import { concat, defer, distinctUntilChanged, map, NEVER, type Observable, of } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyHttpError,
  ComfyTimeoutError,
  type ConnectionState,
  type JobEvent,
  type PodMessage,
  type Workflow,
} from '../../src/index.js'
import { checkPodHealth } from '../../src/runner/checkPodHealth.js'
import { ComfyUIJobRunner } from '../../src/runner/ComfyUIJobRunner.js'
import type { ComfyUIJobRunnerOptions } from '../../src/runner/ComfyUIJobRunnerOptions.js'
import type { RunnerPod } from '../../src/runner/RunnerPod.js'
import { msg } from '../support/messages.js'
import { completed, queued, started } from '../analytics/jobEvents.js'

const workflow: Workflow = { '1': { class_type: 'EmptyImage', inputs: {} } }
const OPEN: ConnectionState = { state: 'open', connectTimeMs: 1 }
const CONNECTING: ConnectionState = { state: 'connecting', attempt: 1 }
const stats = { system: {}, devices: [] }

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

interface FakePod extends RunnerPod {
  /** The workflows' jobs, one per `executeWorkflow$` call, in order. */
  readonly jobs: Observable<JobEvent>[]
  /** How many health checks and jobs it got. */
  readonly calls: { health: number; jobs: number }
}

/** A pod whose every effect is an Observable of the test's scheduler. */
function fakePod(
  name: string,
  effects: {
    readonly connection$?: Observable<ConnectionState>
    readonly messages$?: Observable<PodMessage>
    readonly health?: () => Observable<unknown>
  } = {},
): FakePod {
  const calls = { health: 0, jobs: 0 }
  const jobs: Observable<JobEvent>[] = []
  return {
    url: `http://${name}/`,
    clientId: name,
    jobs,
    calls,
    connection$: effects.connection$ ?? concat(of(OPEN), NEVER),
    messages$: effects.messages$ ?? NEVER,
    getSystemStats: () => {
      calls.health++
      return effects.health?.() ?? of(stats)
    },
    // Cold, as a pod's jobs are: nothing happens until subscription.
    executeWorkflow$: () =>
      defer(() => {
        calls.jobs++
        return jobs.shift() ?? NEVER
      }),
  }
}

/** A runner on fake pods in virtual time; closed at `closeAt` so that its interval stops. */
function runnerOf(
  scheduler: TestScheduler,
  options: Omit<ComfyUIJobRunnerOptions, 'scheduler'>,
  closeAt = 1000,
): ComfyUIJobRunner {
  const runner = new ComfyUIJobRunner({
    healthCheckTimeoutMs: 10,
    healthCheckIntervalMs: 100,
    podRetryMs: 50,
    ...options,
    scheduler,
  })
  scheduler.schedule(() => runner.close(), closeAt)
  return runner
}

const healthyOf = (runner: ComfyUIJobRunner, index: number) =>
  runner.pods$.pipe(
    map((pods) => (pods[index]?.healthy ? 't' : 'f')),
    distinctUntilChanged(),
  )

describe('checkPodHealth', () => {
  it('passes when the pod answers within the limit, and fails at the limit otherwise', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = (answer: Observable<unknown>) => ({
        url: 'http://pod/',
        getSystemStats: () => answer,
      })
      expectObservable(checkPodHealth(pod(cold('---a|')), 5, scheduler)).toBe('---a|', {
        a: undefined,
      })
      expectObservable(checkPodHealth(pod(cold('-')), 5, scheduler)).toBe(
        '-----#',
        undefined,
        new ComfyHttpError(
          'http://pod/ did not answer GET /system_stats within 5 ms',
          'GET',
          'http://pod/',
          0,
        ),
      )
      const failure = new ComfyHttpError('GET answered 500', 'GET', 'http://pod/', 500)
      expectObservable(checkPodHealth(pod(cold('--#', undefined, failure)), 5, scheduler)).toBe(
        '--#',
        undefined,
        failure,
      )
    })
  })
})

describe('ComfyUIJobRunner timers', () => {
  it('keeps a pod whose health check times out out of the rotation until a later check passes', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const answers = [cold('-'), cold('-'), cold('--a|', { a: stats })]
      const pod = fakePod('a', { health: () => answers.shift() ?? cold('a|', { a: stats }) })
      const runner = runnerOf(scheduler, { pods: [pod] }, 200)
      // Checks at 0 and 60 time out at 10 and 70; the one at 120 answers at 122.
      expectObservable(healthyOf(runner, 0)).toBe('f 121ms t 77ms (f|)')
    })
  })

  it('checks a pod in the rotation every healthCheckIntervalMs and drops it at a failure', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      let checks = 0
      const pod = fakePod('a', {
        health: () => (++checks === 3 ? cold('-#') : cold('a|', { a: stats })),
      })
      const runner = runnerOf(scheduler, { pods: [pod] }, 300)
      // In at 0; interval checks at 100 (passes) and 200 (fails at 201); back at 251.
      expectObservable(healthyOf(runner, 0)).toBe('t 200ms f 49ms t 48ms (f|)')
      scheduler.schedule(() => expect(pod.calls.health).toBe(4), 299)
    })
  })

  it('lets a job wait for a healthy pod, then fails it with ComfyTimeoutError at timeoutMs', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable }) => {
      const pod = fakePod('a', { connection$: concat(of(CONNECTING), hot<ConnectionState>('-')) })
      pod.jobs.push(cold('-q|', { q: queued('p') }))
      const runner = runnerOf(scheduler, { pods: [pod] }, 100)
      expectObservable(runner.run$(workflow, { timeoutMs: 30 })).toBe(
        '30ms #',
        undefined,
        new ComfyTimeoutError(undefined, 30),
      )
      scheduler.schedule(() => expect(pod.calls.jobs).toBe(0), 99)
    })
  })

  it('sends a waiting job as soon as a pod opens', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable }) => {
      const connection$ = concat(of(CONNECTING), hot('----o', { o: OPEN }))
      const pod = fakePod('a', { connection$ })
      const events = { q: queued('p'), s: started('p'), w: completed('p') }
      pod.jobs.push(cold('-q-s-w|', events))
      const runner = runnerOf(scheduler, { pods: [pod] }, 100)
      expectObservable(runner.run$(workflow)).toBe('-----q-s-w|', events)
    })
  })

  it('queues jobs beyond concurrencyPerPod in the runner and sends each when one ends', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      const pod = fakePod('a')
      const a = { q: queued('a'), w: completed('a') }
      const b = { q: queued('b'), w: completed('b') }
      pod.jobs.push(cold('-q--w|', a), cold('-q--w|', b))
      const runner = runnerOf(scheduler, { pods: [pod], concurrencyPerPod: 1 }, 100)
      expectObservable(runner.run$(workflow)).toBe('-q--w|', a)
      expectObservable(runner.run$(workflow)).toBe('------q--w|', b)
    })
  })

  it('sends jobs to the pod with the least queue_remaining plus jobs in flight', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const status = (remaining: number) =>
        msg('status', { status: { exec_info: { queue_remaining: remaining } } })
      const busy = fakePod('busy', { messages$: hot('-b', { b: status(3) }) })
      const idle = fakePod('idle', { messages$: hot('-i', { i: status(0) }) })
      const runner = runnerOf(scheduler, { pods: [busy, idle], concurrencyPerPod: 4 }, 100)
      // Loads: busy 3, idle 0 → idle, 1 → idle, 2 → idle, 3 → a tie, to the first: busy.
      scheduler.schedule(() => {
        for (let i = 0; i < 4; i++) runner.run$(workflow).subscribe()
      }, 5)
      expectObservable(
        runner.pods$.pipe(map((pods) => pods.map((pod) => pod.inFlight).join(','))),
        '^ 6ms !',
      ).toBe('a(bc)(defg)', {
        a: '0,0',
        b: '0,0',
        c: '0,0',
        d: '0,1',
        e: '0,2',
        f: '0,3',
        g: '1,3',
      })
    })
  })
})
