import { describe, expectTypeOf, it } from 'vitest'
import {
  ComfyConnectionError,
  ComfyStoreError,
  type CancelledPhase,
  type ComfyAuthError,
  type ComfyCancelledError,
  type ComfyError,
  type ComfyExecutionError,
  type ComfyHttpError,
  type ComfyInterruptedError,
  type ComfyPromptLostError,
  type ComfyTimeoutError,
  type ComfyValidationError,
  type MissingNodeType,
  type NodeErrors,
} from 'comfyui-rx'

describe('the error classes', () => {
  it('all extend ComfyError, which extends Error', () => {
    expectTypeOf<ComfyError>().toExtend<Error>()
    expectTypeOf<ComfyAuthError>().toExtend<ComfyError>()
    expectTypeOf<ComfyConnectionError>().toExtend<ComfyError>()
    expectTypeOf<ComfyExecutionError>().toExtend<ComfyError>()
    expectTypeOf<ComfyHttpError>().toExtend<ComfyError>()
    expectTypeOf<ComfyInterruptedError>().toExtend<ComfyError>()
    expectTypeOf<ComfyCancelledError>().toExtend<ComfyInterruptedError>()
    expectTypeOf<ComfyPromptLostError>().toExtend<ComfyError>()
    expectTypeOf<ComfyStoreError>().toExtend<ComfyError>()
    expectTypeOf<ComfyTimeoutError>().toExtend<ComfyError>()
    expectTypeOf<ComfyValidationError>().toExtend<ComfyError>()
  })

  it('name themselves with literal names', () => {
    expectTypeOf<ComfyCancelledError['name']>().toEqualTypeOf<'ComfyCancelledError'>()
    expectTypeOf<ComfyStoreError['name']>().toEqualTypeOf<'ComfyStoreError'>()
    expectTypeOf<ComfyValidationError['name']>().toEqualTypeOf<'ComfyValidationError'>()
    expectTypeOf<ComfyTimeoutError['name']>().toEqualTypeOf<'ComfyTimeoutError'>()
  })

  it('carry the context a caller needs', () => {
    expectTypeOf<ComfyCancelledError['phase']>().toEqualTypeOf<CancelledPhase>()
    expectTypeOf<CancelledPhase>().toEqualTypeOf<'pending' | 'running'>()
    expectTypeOf<ComfyCancelledError['promptId']>().toEqualTypeOf<string>()
    expectTypeOf<ComfyValidationError['missingNodeType']>().toEqualTypeOf<
      MissingNodeType | undefined
    >()
    expectTypeOf<MissingNodeType>().toEqualTypeOf<{
      readonly nodeId?: string
      readonly classType?: string
      readonly nodeTitle?: string
    }>()
    expectTypeOf<ComfyValidationError['status']>().toEqualTypeOf<400>()
    expectTypeOf<ComfyValidationError['nodeErrors']>().toEqualTypeOf<
      Readonly<Record<string, NodeErrors>>
    >()
    expectTypeOf<ComfyValidationError['cycleNodes']>().toEqualTypeOf<
      readonly string[] | undefined
    >()
    expectTypeOf<ComfyExecutionError['nodeId']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<ComfyExecutionError['traceback']>().toEqualTypeOf<readonly string[]>()
    expectTypeOf<ComfyHttpError['status']>().toEqualTypeOf<number>()
    expectTypeOf<ComfyHttpError['body']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<ComfyTimeoutError['phase']>().toEqualTypeOf<'job' | 'queue'>()
    expectTypeOf<ComfyStoreError['operation']>().toEqualTypeOf<string>()
  })

  it('take a cause where they wrap another error', () => {
    expectTypeOf(ComfyConnectionError).toBeConstructibleWith('refused', 'ws://pod', 'refused', {
      cause: new Error('ECONNREFUSED'),
    })
    expectTypeOf(ComfyStoreError).toBeConstructibleWith('the store is closed', 'latest')
  })
})
