import { describe, expect, it } from 'vitest'
import { resolveJobSettings } from '../../src/job/JobSettings.js'

describe('resolveJobSettings', () => {
  it('gives every job that keeps the defaults one settings object, and others their own', () => {
    const defaults = resolveJobSettings({})
    expect(resolveJobSettings({})).toBe(defaults)
    expect(resolveJobSettings({ timeoutMs: 1_800_000, socket: true })).toBe(defaults)
    const own = resolveJobSettings({ timeoutMs: 60_000 })
    expect(own).not.toBe(defaults)
    expect(own).toEqual({ ...defaults, timeoutMs: 60_000 })
    const signal = new AbortController().signal
    expect(resolveJobSettings({ signal })).toEqual({ ...defaults, signal })
  })

  it('still rejects an invalid option', () => {
    expect(() => resolveJobSettings({ timeoutMs: -1 })).toThrow(TypeError)
    expect(() => resolveJobSettings({ socket: false, restFallback: false })).toThrow(TypeError)
  })
})
