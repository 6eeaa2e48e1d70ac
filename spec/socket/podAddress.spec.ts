import { describe, expect, it } from 'vitest'
import { podAddress } from '../../src/socket/podAddress.js'
import { reconnectDelay } from '../../src/socket/reconnectDelay.js'
import { redactUrl } from '../../src/internal/redactUrl.js'

describe('podAddress', () => {
  it('derives ws from http and wss from https, keeping the base path', () => {
    expect(podAddress('http://pod:8188', 'c').wsUrl).toBe('ws://pod:8188/ws?clientId=c')
    expect(podAddress('https://gpu.example/comfy/', 'c').wsUrl).toBe(
      'wss://gpu.example/comfy/ws?clientId=c',
    )
  })

  it('moves user:pass into an Authorization header and keeps it out of every URL shown', () => {
    const address = podAddress('https://me:s3cret@gpu.example/base?token=abc', 'c')
    expect(address.headers).toEqual({
      authorization: `Basic ${Buffer.from('me:s3cret').toString('base64')}`,
    })
    expect(address.httpUrl('/history/x')).toBe('https://gpu.example/base/history/x?token=abc')
    expect(address.httpUrl('/view?filename=a')).toBe(
      'https://gpu.example/base/view?filename=a&token=abc',
    )
    expect(address.wsUrl).toBe('wss://gpu.example/base/ws?token=abc&clientId=c')
    expect(address.display).not.toMatch(/s3cret|abc/)
  })
})

describe('redactUrl', () => {
  it('replaces credentials and token-like parameters', () => {
    expect(redactUrl('http://u:p@h/x?token=1&api_key=2&page=3')).toBe(
      'http://***@h/x?token=***&api_key=***&page=3',
    )
  })
})

describe('reconnectDelay', () => {
  it('doubles from the base up to the cap, with jitter in [0.5, 1] of it', () => {
    expect([1, 2, 3, 4, 10].map((n) => reconnectDelay(n, 100, 1000, () => 0.999999))).toEqual([
      100, 200, 400, 800, 1000,
    ])
    expect([1, 2, 3].map((n) => reconnectDelay(n, 100, 1000, () => 0))).toEqual([50, 100, 200])
  })
})
