import { describe, expect, it } from 'vitest'
import type { PodMessage } from '../../src/index.js'
import { PromptRouter } from '../../src/socket/PromptRouter.js'
import { msg } from '../support/messages.js'

const preview = (promptId?: string): PodMessage =>
  promptId === undefined
    ? { type: 'preview_image', mime: 'image/png', image: new Uint8Array([1]) }
    : {
        type: 'preview_image_with_metadata',
        mime: 'image/png',
        image: new Uint8Array([1]),
        metadata: { node_id: '3', prompt_id: promptId },
      }

/** A route that records what it is given. */
const recorder = (got: string[]) => ({ message: (m: PodMessage) => void got.push(m.type) })

describe('PromptRouter', () => {
  it('delivers each message to the route of its prompt only, among 10,000', () => {
    const router = new PromptRouter()
    const calls = new Map<string, number>()
    for (let i = 0; i < 10_000; i++) {
      router.register(`p${i}`, {
        message: () => void calls.set(`p${i}`, (calls.get(`p${i}`) ?? 0) + 1),
      })
    }
    router.dispatch(msg('progress', { value: 1, max: 2, prompt_id: 'p4242', node: '3' }))
    router.dispatch(msg('executed', { node: '9', output: null, prompt_id: 'p7' }))
    expect([...calls]).toEqual([
      ['p4242', 1],
      ['p7', 1],
    ])
  })

  it('replays the messages that arrived before the route, once', () => {
    const router = new PromptRouter()
    router.dispatch(msg('execution_start', { prompt_id: 'late' }))
    router.dispatch(msg('execution_cached', { nodes: [], prompt_id: 'late' }))
    router.dispatch(msg('execution_start', { prompt_id: 'other' }))
    const got: string[] = []
    const first = recorder(got)
    router.register('late', first)
    router.unregister('late', first)
    router.register('late', recorder(got))
    expect(got).toEqual(['execution_start', 'execution_cached'])
  })

  it('attributes previews without a prompt id to the prompt running now', () => {
    const router = new PromptRouter()
    const a: string[] = []
    const b: string[] = []
    router.register('a', recorder(a))
    router.register('b', recorder(b))
    router.dispatch(msg('execution_start', { prompt_id: 'a' }))
    router.dispatch(preview())
    router.dispatch(preview('b'))
    router.dispatch(msg('executing', { node: null, prompt_id: 'a' }))
    router.dispatch(preview())
    expect(a).toEqual(['execution_start', 'preview_image', 'executing'])
    expect(b).toEqual(['preview_image_with_metadata'])
  })

  it('forgets a route once it is unregistered and ignores broadcast status', () => {
    const router = new PromptRouter()
    const got: string[] = []
    const route = recorder(got)
    router.register('a', route)
    router.dispatch(msg('status', { status: { exec_info: { queue_remaining: 1 } } }))
    router.unregister('a', recorder([]))
    expect(router.size).toBe(1)
    router.unregister('a', route)
    router.dispatch(msg('execution_start', { prompt_id: 'a' }))
    expect(got).toEqual([])
    expect(router.size).toBe(0)
  })
})
