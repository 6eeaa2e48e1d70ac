import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyExecutionError,
  ComfyValidationError,
  type JobEvent,
} from '../../src/index.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { InMemoryProgressStore } from '../../src/store/InMemoryProgressStore.js'
import type { ProgressStore } from '../../src/store/ProgressStore.js'
import { publishProgress } from '../../src/store/publishProgress.js'
import {
  completed,
  done,
  P,
  preview,
  processing,
  progress,
  queued,
  started,
} from '../sse/jobEvents.js'

const testScheduler = () =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

/** An in-memory store that also records every update it was given. */
function recordingStore(): ProgressStore & { readonly saved: ProgressUpdate[] } {
  const store = new InMemoryProgressStore()
  const saved: ProgressUpdate[] = []
  return Object.assign(store, {
    saved,
    save: (update: ProgressUpdate) => {
      saved.push(update)
      return InMemoryProgressStore.prototype.save.call(store, update)
    },
  })
}

const executionError = new ComfyExecutionError({
  prompt_id: P,
  node_id: '3',
  node_type: 'KSampler',
  executed: [],
  exception_message: 'CUDA out of memory at /home/user/model.py',
  exception_type: 'torch.OutOfMemoryError',
  traceback: [],
  current_inputs: {},
  current_outputs: [],
  timestamp: 1,
})

describe('publishProgress', () => {
  it('saves each update a browser would see and passes the events through unchanged', () => {
    const store = recordingStore()
    testScheduler().run(({ cold, expectObservable }) => {
      const events = { q: queued(0), s: started, p: progress(40), v: preview, c: completed }
      const job$ = cold('q-s-p-v-c|', events)
      expectObservable(job$.pipe(publishProgress(store))).toBe('q-s-p-v-c|', events)
    })
    expect(store.saved).toEqual([
      { promptId: P, status: 'queued', progress: 0, queuePosition: 0 },
      processing(0),
      processing(40),
      done,
    ])
  })

  it('saves a failure as a final update with a user-safe message, and rethrows it', () => {
    const store = recordingStore()
    testScheduler().run(({ cold, expectObservable }) => {
      const job$ = cold('q-p-#', { q: queued(0), p: progress(30) }, executionError)
      expectObservable(job$.pipe(publishProgress(store))).toBe(
        'q-p-#',
        { q: queued(0), p: progress(30) },
        executionError,
      )
    })
    const failed = store.saved.at(-1)
    expect(failed).toEqual({
      promptId: P,
      status: 'failed',
      progress: 30,
      message: 'A step of the workflow failed on the server.',
      errorName: 'ComfyExecutionError',
    })
    expect(JSON.stringify(failed)).not.toContain('CUDA')
  })

  it('saves nothing for a job refused before it had a prompt id', () => {
    const store = recordingStore()
    const refused = new ComfyValidationError('invalid prompt', {})
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<JobEvent>('#', undefined, refused).pipe(publishProgress(store))).toBe(
        '#',
        {},
        refused,
      )
    })
    expect(store.saved).toEqual([])
  })

  it('leaves out the errors that are not final, so that watchers keep waiting', () => {
    const store = recordingStore()
    const closed = new ComfyConnectionError('the pod is closed', 'ws://pod', 'pod_closed')
    testScheduler().run(({ cold, expectObservable }) => {
      const job$ = cold('s-#', { s: started }, closed)
      const isFinal = (error: unknown) => !(error instanceof ComfyConnectionError)
      expectObservable(job$.pipe(publishProgress(store, { isFinal }))).toBe(
        's-#',
        { s: started },
        closed,
      )
    })
    expect(store.saved).toEqual([processing(0)])
  })

  it('gives the images the URLs of imageUrl', () => {
    const store = recordingStore()
    testScheduler().run(({ cold, expectObservable }) => {
      const imageUrl = (_image: unknown, index: number, promptId: string) =>
        `/i/${promptId}/${index}`
      expectObservable(
        cold('c|', { c: completed }).pipe(publishProgress(store, { imageUrl })),
      ).toBe('c|', { c: completed })
    })
    expect(store.saved[0]?.images?.[0]?.url).toBe(`/i/${P}/0`)
  })

  it('never fails the job when the store throws', () => {
    const broken = Object.assign(new InMemoryProgressStore(), {
      save: () => {
        throw new Error('broken store')
      },
    })
    testScheduler().run(({ cold, expectObservable }) => {
      const events = { q: queued(0), c: completed }
      expectObservable(cold('q-c|', events).pipe(publishProgress(broken))).toBe('q-c|', events)
    })
  })

  it('is cold: nothing is saved before subscription, and each subscription saves its own', () => {
    const store = recordingStore()
    testScheduler().run(({ cold, expectObservable }) => {
      const job$ = cold('q|', { q: queued(1) }).pipe(publishProgress(store))
      expect(store.saved).toEqual([])
      expectObservable(job$).toBe('q|', { q: queued(1) })
    })
    expect(store.saved).toHaveLength(1)
  })

  it('throws a TypeError for a store that is not one, or an invalid option', () => {
    expect(() => publishProgress({} as ProgressStore)).toThrow(
      /^store must be a ProgressStore, received/,
    )
    const store = new InMemoryProgressStore()
    expect(() => publishProgress(store, { isFinal: 1 as never })).toThrow(TypeError)
    expect(() => publishProgress(store, { imageUrl: 'x' as never })).toThrow(TypeError)
  })
})
