import type { Observable, OperatorFunction } from 'rxjs'
import { describe, expectTypeOf, it } from 'vitest'
import {
  ComfyPod,
  toProgressUpdates,
  type CancelledPhase,
  type ComfyPodOptions,
  type ComfyUIJobResult,
  type ExecuteWorkflowOptions,
  type JobCompleted,
  type JobEvent,
  type JobProgress,
  type ProgressUpdate,
  type QueuedPrompt,
  type TrackPromptOptions,
  type Workflow,
} from 'comfyui-rx'

declare const pod: ComfyPod
declare const workflow: Workflow
declare const event: JobEvent

describe('ComfyPod', () => {
  it('is created from a URL and optional ComfyPodOptions', () => {
    expectTypeOf(ComfyPod).constructorParameters.toEqualTypeOf<
      [url: string, options?: ComfyPodOptions]
    >()
  })

  it('runs a workflow as an Observable of JobEvent', () => {
    expectTypeOf(pod.executeWorkflow$).toBeCallableWith(workflow)
    expectTypeOf(pod.executeWorkflow$).toBeCallableWith(workflow, { previewMethod: 'taesd' })
    expectTypeOf(pod.executeWorkflow$(workflow)).toEqualTypeOf<Observable<JobEvent>>()
    expectTypeOf(pod.track$('p1')).toEqualTypeOf<Observable<JobEvent>>()
  })

  it('queues without following, and cancels with the phase the prompt was in', () => {
    expectTypeOf(pod.queueWorkflow(workflow)).resolves.toEqualTypeOf<QueuedPrompt>()
    expectTypeOf(pod.cancel('p1')).resolves.toEqualTypeOf<CancelledPhase | undefined>()
    expectTypeOf(pod.viewUrl).returns.toEqualTypeOf<string>()
  })

  it('turns its events into ProgressUpdates with toProgressUpdates', () => {
    expectTypeOf(toProgressUpdates()).toEqualTypeOf<
      OperatorFunction<JobEvent | ProgressUpdate, ProgressUpdate>
    >()
    expectTypeOf(pod.executeWorkflow$(workflow).pipe(toProgressUpdates())).toEqualTypeOf<
      Observable<ProgressUpdate>
    >()
  })
})

describe('JobEvent', () => {
  it('is a union discriminated by type', () => {
    expectTypeOf<JobEvent['type']>().toEqualTypeOf<
      'queued' | 'started' | 'progress' | 'preview' | 'node_executed' | 'completed'
    >()
    expectTypeOf(event).toHaveProperty('promptId').toEqualTypeOf<string>()
    expectTypeOf(event).toHaveProperty('source').toEqualTypeOf<'websocket' | 'rest_polling'>()
  })

  it('narrows to the fields of each event on its type', () => {
    switch (event.type) {
      case 'queued':
        expectTypeOf(event.position).toEqualTypeOf<number>()
        break
      case 'progress':
        expectTypeOf(event).toEqualTypeOf<JobProgress>()
        expectTypeOf(event.progress).toEqualTypeOf<number>()
        expectTypeOf(event.estimatedTimeRemaining).toEqualTypeOf<number | undefined>()
        break
      case 'preview':
        expectTypeOf(event.image).toEqualTypeOf<Uint8Array>()
        break
      case 'node_executed':
        expectTypeOf(event.node).toEqualTypeOf<string>()
        break
      case 'completed':
        expectTypeOf(event).toEqualTypeOf<JobCompleted>()
        expectTypeOf(event.result).toEqualTypeOf<ComfyUIJobResult>()
        break
      case 'started':
        expectTypeOf(event).not.toHaveProperty('progress')
        break
      default:
        expectTypeOf(event).toBeNever()
    }
  })
})

describe('ExecuteWorkflowOptions', () => {
  const execute = (options: ExecuteWorkflowOptions) => options

  it('accepts the documented fields, those of TrackPromptOptions included', () => {
    expectTypeOf<ExecuteWorkflowOptions>().toExtend<TrackPromptOptions>()
    execute({
      previewMethod: 'latent2rgb',
      promptId: 'a3f1c2e4-0000-4000-8000-000000000000',
      front: true,
      extraData: { client: 'studio' },
      timeoutMs: 60_000,
      progressThrottleMs: 0,
      signal: new AbortController().signal,
      restFallback: false,
    })
  })

  it('rejects an unknown field, a preview method ComfyUI lacks, and an explicit undefined', () => {
    // @ts-expect-error: not an option
    execute({ retries: 3 })
    // @ts-expect-error: not a PreviewMethod
    execute({ previewMethod: 'fast' })
    // @ts-expect-error: exactOptionalPropertyTypes: leave the field out instead
    execute({ timeoutMs: undefined })
    // @ts-expect-error: milliseconds are numbers
    execute({ timeoutMs: '60s' })
  })
})

describe('ComfyPodOptions', () => {
  it('accepts headers, timings and injected collaborators', () => {
    expectTypeOf<{
      headers: { authorization: string }
      socketGraceMs: number
      fetch: typeof fetch
    }>().toExtend<ComfyPodOptions>()
  })

  it('rejects an unknown field and a mistyped one', () => {
    // @ts-expect-error: not an option
    new ComfyPod('http://127.0.0.1:8188', { reconnect: true })
    // @ts-expect-error: header values are strings
    new ComfyPod('http://127.0.0.1:8188', { headers: { 'x-retries': 3 } })
  })
})
