import { isRight } from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts'
import { describe, expect, it } from 'vitest'
import { History, PromptAccepted, PromptRejected, Queue, SystemStats } from '../../src/index.js'
import { readTrace, TRACE_NAMES } from '../support/traces.js'

function codecFor(
  method: string,
  path: string,
  status: number,
): t.Decoder<unknown, unknown> | undefined {
  if (method === 'POST' && path === '/prompt')
    return status === 200 ? PromptAccepted : PromptRejected
  if (path.startsWith('/history/')) return History
  if (path === '/queue') return Queue
  if (path === '/system_stats') return SystemStats
  return undefined
}

describe('REST body codecs', () => {
  it.each(TRACE_NAMES)('decode every answer recorded in the %s trace', (name) => {
    let checked = 0
    for (const entry of readTrace(name)) {
      if (entry.dir !== 'http') continue
      const codec = codecFor(entry.method, entry.path, entry.status)
      expect(codec, `${entry.method} ${entry.path}`).toBeDefined()
      expect(isRight(codec!.decode(entry.resp)), `${entry.method} ${entry.path}`).toBe(true)
      checked++
    }
    expect(checked).toBeGreaterThan(0)
  })

  it('accept a 400 whose error is a plain string', () => {
    expect(isRight(PromptRejected.decode({ error: 'bad', node_errors: {} }))).toBe(true)
  })

  it('read a history entry of an old server with no status', () => {
    expect(isRight(History.decode({ p: { outputs: {}, prompt: [] } }))).toBe(true)
  })
})
