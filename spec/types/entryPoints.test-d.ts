import type { Observable } from 'rxjs'
import { describe, expectTypeOf, it } from 'vitest'
import type { ComfyError, ProgressStore, ProgressUpdate } from 'comfyui-rx'
import { progressUpdates$, type ProgressStreamError } from 'comfyui-rx/browser'
import { startComfySimulator, type ComfySimulator } from 'comfyui-rx/simulator'
import { RedisProgressStore, type RedisProgressStoreOptions } from 'comfyui-rx/store'

describe('the sub-path entry points', () => {
  it('share the main entry point types: one ComfyError, one ProgressStore', () => {
    expectTypeOf<ProgressStreamError>().toExtend<ComfyError>()
    expectTypeOf<RedisProgressStore>().toExtend<ProgressStore>()
  })

  it('follow a prompt in the browser as an Observable of ProgressUpdate', () => {
    expectTypeOf(progressUpdates$('/progress/p1')).toEqualTypeOf<Observable<ProgressUpdate>>()
  })

  it('start a simulator from optional options', () => {
    expectTypeOf(startComfySimulator()).resolves.toEqualTypeOf<ComfySimulator>()
    expectTypeOf(startComfySimulator).toBeCallableWith({ version: '0.33', paused: true })
    // @ts-expect-error: a release the simulator does not imitate
    void startComfySimulator({ version: '0.2' })
  })

  it('open a Redis store from a URL and its options', () => {
    expectTypeOf(RedisProgressStore).toBeConstructibleWith('redis://127.0.0.1:6379', {
      ttlMs: 60_000,
    })
    expectTypeOf<{
      keyPrefix: string
      readyTimeoutMs: number
    }>().toExtend<RedisProgressStoreOptions>()
  })
})
