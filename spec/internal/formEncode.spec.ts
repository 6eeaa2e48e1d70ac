import { describe, expect, it } from 'vitest'
import { formEncode } from '../../src/internal/formEncode.js'

describe('formEncode', () => {
  it('encodes a value exactly as URLSearchParams does', () => {
    const values = [
      'ComfyUI_00001_.png',
      '',
      'a b+c&d=e?f/g#h',
      "it's (fine)! ~*-._",
      'ünïcödé 画像 🎨.webp',
      '%20 already%2Fencoded',
      'lone \ud800 surrogate',
    ]
    for (const value of values) {
      expect(formEncode(value)).toBe(new URLSearchParams({ v: value }).toString().slice(2))
    }
  })
})
