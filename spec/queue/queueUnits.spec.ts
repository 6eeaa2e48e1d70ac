import { describe, expect, it } from 'vitest'
import { ComfyCancelledError } from '../../src/errors/ComfyCancelledError.js'
import { ComfyConnectionError } from '../../src/errors/ComfyConnectionError.js'
import { ComfyError } from '../../src/errors/ComfyError.js'
import { ComfyExecutionError } from '../../src/errors/ComfyExecutionError.js'
import { ComfyHttpError } from '../../src/errors/ComfyHttpError.js'
import { ComfyInterruptedError } from '../../src/errors/ComfyInterruptedError.js'
import { ComfyPromptLostError } from '../../src/errors/ComfyPromptLostError.js'
import { ComfyTimeoutError } from '../../src/errors/ComfyTimeoutError.js'
import { ComfyValidationError } from '../../src/errors/ComfyValidationError.js'
import { resolveWorkerOptions } from '../../src/queue/ComfyWorkerOptions.js'
import { recordError, reviveError } from '../../src/queue/ErrorRecord.js'
import { isRetryable } from '../../src/queue/isRetryable.js'
import { takeOver } from '../../src/queue/takeOver.js'

const target = { promptId: 'p', podUrl: 'http://gpu-1/', clientId: 'c' }

describe('takeOver', () => {
  it('sends a prompt the pod never answered for, or one of an earlier attempt', () => {
    expect(takeOver({ ...target, attempt: 0, submitted: false }, 0)).toBe('send')
    expect(takeOver({ ...target, attempt: 0, submitted: true }, 1)).toBe('send')
  })

  it('fails an attempt whose pod lost a prompt it had taken', () => {
    expect(takeOver({ ...target, attempt: 1, submitted: true }, 1)).toBe('fail')
  })
})

describe('isRetryable', () => {
  it('retries what a new attempt may overcome', () => {
    expect(isRetryable(new ComfyPromptLostError('p'))).toBe(true)
    expect(isRetryable(new ComfyConnectionError('refused', 'ws://x', 'refused'))).toBe(true)
    expect(isRetryable(new ComfyHttpError('boom', 'GET', 'http://x', 503))).toBe(true)
    expect(isRetryable(new Error('Connection is closed.'))).toBe(true)
  })

  it('does not retry what would fail the same way', () => {
    expect(isRetryable(new ComfyHttpError('nope', 'POST', 'http://x', 400))).toBe(false)
    expect(isRetryable(new ComfyExecutionError({ prompt_id: 'p' } as never))).toBe(false)
    expect(isRetryable(new ComfyCancelledError('p', 'running'))).toBe(false)
    expect(isRetryable(new ComfyInterruptedError({ prompt_id: 'p' }))).toBe(false)
    expect(isRetryable(new ComfyTimeoutError('p', 1000))).toBe(false)
    expect(isRetryable(new TypeError('promptId must be a UUID'))).toBe(false)
  })
})

describe('recordError and reviveError', () => {
  it('give back an error of its class, with its fields, through JSON', () => {
    const original = new ComfyCancelledError('p1', 'running')
    const revived = reviveError(JSON.parse(JSON.stringify(recordError(original))) as never)

    expect(revived).toBeInstanceOf(ComfyCancelledError)
    expect(revived).toBeInstanceOf(ComfyInterruptedError)
    expect(revived).toBeInstanceOf(ComfyError)
    expect(revived).toMatchObject({
      name: 'ComfyCancelledError',
      message: original.message,
      phase: 'running',
      data: { prompt_id: 'p1' },
    })
    expect(String(revived)).toBe(`ComfyCancelledError: ${original.message}`)
  })

  it('keeps a validation error\u2019s details', () => {
    const original = new ComfyValidationError(
      { type: 'invalid_prompt', message: 'no such node', details: '', extra_info: {} },
      {},
      'p2',
    )
    const revived = reviveError(recordError(original))
    expect(revived).toBeInstanceOf(ComfyValidationError)
    expect(revived).toMatchObject({ type: 'invalid_prompt', promptId: 'p2' })
  })

  it('gives an unknown class as an Error named after it, and anything thrown as an Error', () => {
    expect(reviveError({ name: 'RangeError', message: 'x', fields: {} })).toMatchObject({
      name: 'RangeError',
      message: 'x',
    })
    expect(recordError('a string')).toEqual({ name: 'Error', message: 'a string', fields: {} })
  })
})

describe('startComfyWorker options', () => {
  const base = { connection: 'redis://127.0.0.1:6379', pods: ['http://gpu-1:8188'] }

  it('has its defaults in one place', () => {
    expect(resolveWorkerOptions(base)).toMatchObject({
      name: 'comfyui-rx',
      prefix: 'bull',
      concurrencyPerPod: 2,
      lockDurationMs: 10_000,
      stalledIntervalMs: 5_000,
      maxStalledCount: 5,
      keepJobsMs: 86_400_000,
    })
  })

  it('refuses invalid options with a TypeError naming them', () => {
    expect(() => resolveWorkerOptions({ ...base, pods: [] })).toThrow(
      /^pods must be a non-empty array of URLs/,
    )
    expect(() => resolveWorkerOptions({ ...base, concurrencyPerPod: 0 })).toThrow(TypeError)
    expect(() => resolveWorkerOptions({ ...base, lockDurationMs: 0 })).toThrow(TypeError)
    expect(() => resolveWorkerOptions({ ...base, name: 'a:b' })).toThrow(TypeError)
    expect(() =>
      resolveWorkerOptions({ ...base, podOptions: { clientId: 'same' } as never }),
    ).toThrow(/podOptions.clientId/)
    expect(() => resolveWorkerOptions({ ...base, connection: 42 as never })).toThrow(TypeError)
  })
})
