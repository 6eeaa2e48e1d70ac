import fc from 'fast-check'
import { isLeft, isRight, left, right, type Either } from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { decodeFrame, type DecodeIssue, type PodMessage } from '../../src/index.js'
import { decodeFrameValue, isDecodeIssue } from '../../src/protocol/decodeFrame.js'
import { textFrames, TRACE_NAMES, readTrace } from '../support/traces.js'

function message(decoded: Either<DecodeIssue, PodMessage>): PodMessage {
  if (isLeft(decoded)) throw new Error(`expected a message, got ${JSON.stringify(decoded.left)}`)
  return decoded.right
}

function issue(decoded: Either<DecodeIssue, PodMessage>): DecodeIssue {
  if (isRight(decoded)) throw new Error(`expected an issue, got ${JSON.stringify(decoded.right)}`)
  return decoded.left
}

function frame(eventType: number, ...parts: (number | string | Uint8Array)[]): Uint8Array {
  const chunks: Uint8Array[] = [u32(eventType)]
  for (const part of parts) {
    chunks.push(
      typeof part === 'number'
        ? u32(part)
        : typeof part === 'string'
          ? new TextEncoder().encode(part)
          : part,
    )
  }
  return new Uint8Array(Buffer.concat(chunks))
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

describe('decodeFrame', () => {
  describe.each(TRACE_NAMES)('the recorded %s trace', (name) => {
    it('decodes every text frame to the variant of its type', () => {
      for (const { type, raw } of textFrames(readTrace(name))) {
        const decoded = message(decodeFrame(raw))
        expect(decoded.type).toBe(type)
        expect(decoded).toEqual(JSON.parse(raw))
      }
    })
  })

  it('keeps an unknown message type as data', () => {
    const decoded = message(
      decodeFrame('{"type":"display_component","data":{"node_id":"3","props":{}}}'),
    )
    expect(decoded).toEqual({
      type: 'unknown',
      rawType: 'display_component',
      data: { node_id: '3', props: {} },
    })
  })

  it('accepts the optional fields older servers omit and the extra fields newer ones add', () => {
    expect(message(decodeFrame('{"type":"executing","data":{"node":"7"}}'))).toEqual({
      type: 'executing',
      data: { node: '7' },
    })
    expect(message(decodeFrame('{"type":"progress","data":{"value":1,"max":20}}')).type).toBe(
      'progress',
    )
    const withActivity = message(
      decodeFrame(
        '{"type":"progress_state","data":{"prompt_id":"p","nodes":{"3":{"value":1,"max":2,"state":"running","node_id":"3","activity":"x","new":1}}}}',
      ),
    )
    expect(withActivity.type).toBe('progress_state')
  })

  it('reports a frame that is not JSON as an invalid_json issue with the raw text truncated', () => {
    const found = issue(decodeFrame(`{not json ${'x'.repeat(1000)}`))
    expect(found.reason).toBe('invalid_json')
    expect(found.raw.length).toBeLessThanOrEqual(301)
  })

  describe('frames of servers after 0.3.64', () => {
    const promptId = '3fa85f64-5717-4562-b3fc-2c963f66afa6'

    it('keeps the extra keys of file entries in executed.output, such as the asset id', () => {
      const output = {
        images: [
          {
            filename: 'ComfyUI_00001_.png',
            subfolder: '',
            type: 'output',
            id: '5b2f9c1e-8d7a-4b3c-9e1f-2a4d6c8b0e13',
          },
        ],
        animated: [false],
      }
      const raw = JSON.stringify({
        type: 'executed',
        data: { node: '9', display_node: '9', output, prompt_id: promptId },
      })
      const decoded = message(decodeFrame(raw))
      expect(decoded.type === 'executed' && decoded.data.output).toEqual(output)
    })

    it.each(['assets.seed.started', 'assets.seed.completed'])(
      'keeps the dotted broadcast %s as an unknown message, not an issue',
      (type) => {
        const data = { roots: ['models', 'input', 'output'], total: 12 }
        const decoded = decodeFrameValue(JSON.stringify({ type, data }))
        expect(isDecodeIssue(decoded)).toBe(false)
        expect(decoded).toEqual({ type: 'unknown', rawType: type, data })
      },
    )

    it('decodes an executed with no executing before it, as a cached intermediate output sends', () => {
      const frames = [
        { type: 'execution_start', data: { prompt_id: promptId, timestamp: 1 } },
        {
          type: 'execution_cached',
          data: { nodes: ['4', '12'], prompt_id: promptId, timestamp: 2 },
        },
        {
          type: 'executed',
          data: {
            node: '12',
            display_node: '12',
            output: { images: [{ filename: 'crop.png', subfolder: '', type: 'temp' }] },
            prompt_id: promptId,
          },
        },
        { type: 'execution_success', data: { prompt_id: promptId, timestamp: 3 } },
      ]
      const decoded = frames.map((value) => message(decodeFrame(JSON.stringify(value))))
      expect(decoded).toEqual(frames)
    })

    it('decodes every frame of a node that executes twice in one prompt', () => {
      const node = (state: string, value: number) => ({
        value,
        max: 1,
        state,
        node_id: '12:5',
        prompt_id: promptId,
        display_node_id: '12',
        parent_node_id: null,
        real_node_id: '12:5',
      })
      const frames = [
        {
          type: 'progress_state',
          data: { prompt_id: promptId, nodes: { '12:5': node('running', 0) } },
        },
        { type: 'executing', data: { node: '12:5', display_node: '12', prompt_id: promptId } },
        {
          type: 'progress_state',
          data: { prompt_id: promptId, nodes: { '12:5': node('finished', 1) } },
        },
        {
          type: 'executed',
          data: { node: '12:5', display_node: '12', output: { text: ['a'] }, prompt_id: promptId },
        },
        {
          type: 'progress_state',
          data: { prompt_id: promptId, nodes: { '12:5': node('running', 0) } },
        },
        { type: 'executing', data: { node: '12:5', display_node: '12', prompt_id: promptId } },
        {
          type: 'progress_state',
          data: { prompt_id: promptId, nodes: { '12:5': node('finished', 1) } },
        },
        {
          type: 'executed',
          data: { node: '12:5', display_node: '12', output: { text: ['b'] }, prompt_id: promptId },
        },
      ]
      const decoded = frames.map((value) => message(decodeFrame(JSON.stringify(value))))
      expect(decoded).toEqual(frames)
    })
  })

  it('reports a known type that fails its codec with the io-ts path', () => {
    const found = issue(decodeFrame('{"type":"progress","data":{"value":"x","max":20}}'))
    expect(found).toMatchObject({
      kind: 'decode_issue',
      reason: 'invalid_message',
      messageType: 'progress',
    })
    expect(found.errors.join()).toContain('value')
  })

  it('decodes a type-1 preview', () => {
    const image = new Uint8Array([0x89, 0x50, 0x4e, 0x47])
    expect(message(decodeFrame(frame(1, 2, image)))).toEqual({
      type: 'preview_image',
      mime: 'image/png',
      image,
    })
    expect(message(decodeFrame(frame(1, 1, image)))).toMatchObject({ mime: 'image/jpeg' })
  })

  it('decodes a type-3 progress text', () => {
    expect(message(decodeFrame(frame(3, 2, '12', 'step 3/20')))).toEqual({
      type: 'progress_text',
      nodeId: '12',
      text: 'step 3/20',
    })
  })

  it('decodes a type-4 preview with its metadata', () => {
    const metadata = JSON.stringify({
      node_id: '3',
      prompt_id: 'p1',
      display_node_id: '3',
      parent_node_id: null,
      real_node_id: '3',
      image_type: 'image/png',
    })
    const image = new Uint8Array([1, 2, 3])
    const decoded = message(
      decodeFrame(frame(4, Buffer.byteLength(metadata), metadata, image).buffer as ArrayBuffer),
    )
    expect(decoded).toMatchObject({ type: 'preview_image_with_metadata', mime: 'image/png', image })
    expect(decoded.type === 'preview_image_with_metadata' && decoded.metadata.prompt_id).toBe('p1')
  })

  it('keeps an unknown binary type raw', () => {
    expect(message(decodeFrame(frame(9, new Uint8Array([7]))))).toEqual({
      type: 'unknown_binary',
      eventType: 9,
      data: new Uint8Array([7]),
    })
  })

  it('reports binary frames shorter than their layout', () => {
    expect(issue(decodeFrame(new Uint8Array([0, 0]))).reason).toBe('invalid_binary')
    expect(issue(decodeFrame(frame(1))).reason).toBe('invalid_binary')
    expect(issue(decodeFrame(frame(3, 50, 'ab'))).reason).toBe('invalid_binary')
    expect(issue(decodeFrame(frame(4, 500, '{}'))).reason).toBe('invalid_binary')
    expect(issue(decodeFrame(frame(4, 2, '{}'))).errors.length).toBeGreaterThan(0)
  })

  it('answers without the Either through decodeFrameValue', () => {
    const frames = [
      ...textFrames(readTrace('progress')).map(({ raw }) => raw),
      '{"type":"progress","data":{"value":"x","max":20}}',
      'not json',
      frame(4, 2, '{}'),
      frame(3, 2, '12', 'step 3/20'),
    ]
    for (const raw of frames) {
      const value = decodeFrameValue(raw)
      expect(isDecodeIssue(value) ? left(value) : right(value)).toEqual(decodeFrame(raw))
    }
  })

  it('tells a message that carries a kind key from an issue', () => {
    const raw = '{"type":"executing","kind":"decode_issue","data":{"node":null}}'
    expect(isDecodeIssue(decodeFrameValue(raw))).toBe(false)
    expect(message(decodeFrame(raw))).toEqual(JSON.parse(raw))
    expect(isDecodeIssue(decodeFrameValue('{"kind":"decode_issue"}'))).toBe(true)
  })

  it('never throws, whatever string it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .record({
              type: fc.constantFrom(
                'status',
                'executing',
                'progress',
                'progress_state',
                'executed',
                'execution_error',
                'logs',
              ),
              data: fc.anything(),
            })
            .map((value) => JSON.stringify(value)),
        ),
        (text) => {
          const decoded = decodeFrame(text)
          expect(isLeft(decoded) || isRight(decoded)).toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('never throws, whatever bytes it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc
            .tuple(
              fc.constantFrom(1, 3, 4),
              fc.integer({ min: 0, max: 2 ** 32 - 1 }),
              fc.uint8Array({ maxLength: 64 }),
            )
            .map(([type, length, rest]) => frame(type, length, rest)),
        ),
        (bytes) => {
          const decoded = decodeFrame(bytes)
          expect(isLeft(decoded) || isRight(decoded)).toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
  })
})
