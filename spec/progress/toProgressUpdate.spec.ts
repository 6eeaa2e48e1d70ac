import { of, throwError, toArray, lastValueFrom } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyAuthError,
  ComfyConnectionError,
  ComfyExecutionError,
  ComfyHttpError,
  ComfyInterruptedError,
  ComfyPromptLostError,
  ComfyTimeoutError,
  ComfyValidationError,
  type JobEvent,
} from '../../src/index.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { toProgressUpdate } from '../../src/progress/toProgressUpdate.js'
import { toProgressUpdates } from '../../src/progress/toProgressUpdates.js'
import { userSafeMessage } from '../../src/progress/userSafeMessage.js'
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

describe('toProgressUpdate', () => {
  it('maps queued, started, progress and completed to the status a browser shows', () => {
    expect(toProgressUpdate(queued(2))).toEqual({
      promptId: P,
      status: 'queued',
      progress: 0,
      queuePosition: 2,
    })
    expect(toProgressUpdate(started)).toEqual({ promptId: P, status: 'processing', progress: 0 })
    expect(toProgressUpdate(progress(45.5, 3.2))).toEqual(processing(45.5, 3.2))
    expect(toProgressUpdate(progress(10))).toEqual(processing(10))
    expect(toProgressUpdate(completed)).toEqual(done)
  })

  it('says what the running nodes do (a model loading), and sends a change of it alone', async () => {
    const loading = { ...progress(5), activity: 'loading' } as JobEvent
    const stepping = { ...progress(5), activity: 'stepping' } as JobEvent
    expect(toProgressUpdate(loading)).toEqual({ ...processing(5), activity: 'loading' })
    const updates = await lastValueFrom(
      of(started, loading, stepping).pipe(toProgressUpdates(), toArray()),
    )
    expect(updates.map((update) => update.activity)).toEqual([undefined, 'loading', 'stepping'])
  })

  it('ignores events that change nothing a progress bar shows', () => {
    expect(toProgressUpdate(preview)).toBeUndefined()
    expect(
      toProgressUpdate({
        type: 'node_executed',
        promptId: P,
        source: 'websocket',
        node: '9',
        output: null,
      }),
    ).toBeUndefined()
  })

  it("never sends the pod's image URL unless imageUrl gives one", () => {
    expect(JSON.stringify(toProgressUpdate(completed))).not.toContain('s3cret')
    const update = toProgressUpdate(completed, {
      imageUrl: (image, index, promptId) => `/images/${promptId}/${index}/${image.filename}`,
    })
    expect(update?.images).toEqual([
      {
        filename: 'ComfyUI_00001_.png',
        subfolder: '',
        type: 'output',
        url: `/images/${P}/0/ComfyUI_00001_.png`,
      },
    ])
  })

  it('throws a TypeError naming an invalid option', () => {
    expect(() => toProgressUpdate(started, { imageUrl: 'x' as never })).toThrow(
      new TypeError('imageUrl must be a function, received "x"'),
    )
    expect(() => toProgressUpdates({ promptId: '' })).toThrow(/^promptId must be/)
    expect(() => toProgressUpdates({ failureMessage: 1 as never })).toThrow(/^failureMessage/)
  })
})

describe('userSafeMessage', () => {
  const cases: [string, unknown, string][] = [
    [
      'ComfyValidationError',
      new ComfyValidationError('Prompt outputs failed validation', {}),
      'The workflow is not valid for this server, so it was not run.',
    ],
    [
      'ComfyExecutionError',
      new ComfyExecutionError({
        prompt_id: P,
        node_id: '3',
        exception_message: 'CUDA out of memory at /home/me/ComfyUI/comfy/ops.py',
      }),
      'A step of the workflow failed on the server.',
    ],
    [
      'ComfyInterruptedError',
      new ComfyInterruptedError({ prompt_id: P }),
      'The job was cancelled.',
    ],
    [
      'ComfyTimeoutError (job)',
      new ComfyTimeoutError(P, 60_000),
      'The image took too long to generate and was stopped.',
    ],
    [
      'ComfyTimeoutError (queue)',
      new ComfyTimeoutError(P, 60_000, 'queue'),
      'The server was too busy to start the job in time.',
    ],
    [
      'ComfyPromptLostError',
      new ComfyPromptLostError(P),
      'The job was lost (the image server may have restarted).',
    ],
    [
      'ComfyAuthError',
      new ComfyAuthError('http://pod:8188/prompt', 401),
      'The image server refused access.',
    ],
    [
      'ComfyConnectionError',
      new ComfyConnectionError('lost', 'ws://pod:8188/ws?token=s3cret', 'closed'),
      'The connection to the image server was lost.',
    ],
    [
      'ComfyHttpError',
      new ComfyHttpError('500', 'GET', 'http://pod:8188/queue?token=s3cret', 500, 'Traceback …'),
      'The image server could not be reached or answered with an error.',
    ],
    [
      'any other error',
      new Error('ENOENT /etc/secret'),
      'Something went wrong while generating the image.',
    ],
  ]

  it.each(cases)(
    'gives one fixed sentence for %s, without its details',
    (_name, error, message) => {
      expect(userSafeMessage(error)).toBe(message)
    },
  )
})

describe('toProgressUpdates', () => {
  it('sends only changes, and completes right after the final update', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const events = cold('q s a b c p d e', {
        q: queued(),
        s: started,
        a: progress(10, 5),
        b: progress(10, 5),
        c: progress(30, 3),
        p: preview,
        d: completed,
        e: progress(50),
      })
      expectObservable(events.pipe(toProgressUpdates())).toBe('q s a - c - (d|)', {
        q: toProgressUpdate(queued()),
        s: processing(0),
        a: processing(10, 5),
        c: processing(30, 3),
        d: done,
      })
    })
  })

  it('never goes back: stale statuses and lower progress are dropped', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const updates = cold<ProgressUpdate>('a b c d', {
        a: processing(40, 2),
        b: { promptId: P, status: 'queued', progress: 0 },
        c: processing(20, 1),
        d: processing(50),
      })
      expectObservable(updates.pipe(toProgressUpdates())).toBe('a - - d', {
        a: processing(40, 2),
        d: processing(50),
      })
    })
  })

  it('ends a failed job with a failed update where its progress stopped, with a safe message', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const error = new ComfyExecutionError({ prompt_id: P, exception_message: '/opt/secret.py' })
      const events = cold('q a #', { q: queued(), a: progress(42) }, error)
      expectObservable(events.pipe(toProgressUpdates())).toBe('q a (f|)', {
        q: toProgressUpdate(queued()),
        a: processing(42),
        f: {
          promptId: P,
          status: 'failed',
          progress: 42,
          message: 'A step of the workflow failed on the server.',
          errorName: 'ComfyExecutionError',
        },
      })
    })
  })

  it('names the prompt of a failure before the first event from options.promptId', async () => {
    const error = new ComfyValidationError('invalid prompt', {})
    const updates = await lastValueFrom(
      throwError(() => error).pipe(
        toProgressUpdates({ promptId: 'p9', failureMessage: (e) => `no: ${String(e)}` }),
        toArray(),
      ),
    )
    expect(updates).toEqual([
      {
        promptId: 'p9',
        status: 'failed',
        progress: 0,
        message: 'no: ComfyValidationError: invalid prompt',
        errorName: 'ComfyValidationError',
      },
    ])
  })

  it('clamps progress into 0–100', async () => {
    const updates = await lastValueFrom(
      of(processing(-5), processing(140), processing(Number.NaN)).pipe(
        toProgressUpdates(),
        toArray(),
      ),
    )
    expect(updates.map((update) => update.progress)).toEqual([0, 100])
  })

  it('completes with nothing for an empty source, and unsubscribes its source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<ProgressUpdate>('|').pipe(toProgressUpdates())).toBe('|')
      const never = cold<ProgressUpdate>('-')
      expectObservable(never.pipe(toProgressUpdates()), '^ 5ms !').toBe('-')
      expectSubscriptions(never.subscriptions).toBe('^ 5ms !')
    })
  })
})
