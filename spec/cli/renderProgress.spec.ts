import { describe, expect, it } from 'vitest'
import type { JobEvent, JobProgress, Workflow } from '../../src/index.js'
import { renderProgress } from '../../src/cli/renderProgress.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

const workflow = txt2img as Workflow
const ERASE = '\r\x1b[2K'

function progress(fields: Partial<JobProgress> = {}): JobProgress {
  return {
    type: 'progress',
    promptId: 'p1',
    source: 'websocket',
    progress: 30,
    nodes: {
      '3': { value: 6, max: 20, percentage: 30 },
      '4': { value: 1, max: 1, percentage: 100 },
    },
    totalValue: 7,
    totalMax: 21,
    currentNode: '3',
    estimatedTimeRemaining: 1.44,
    ...fields,
  }
}

function completed(images: number, durationMs = 2300): JobEvent {
  return {
    type: 'completed',
    promptId: 'p1',
    source: 'websocket',
    result: {
      promptId: 'p1',
      status: 'completed',
      images: Array.from({ length: images }, (_, i) => ({
        filename: `ComfyUI_0000${i}_.png`,
        subfolder: '',
        type: 'output',
        url: `http://pod/view?filename=ComfyUI_0000${i}_.png`,
      })),
      outputs: {},
      durationMs,
      method: 'websocket',
      progressUpdates: 3,
    },
  }
}

describe('renderProgress', () => {
  it('draws one plain line per update with percent, node title, steps and ETA', () => {
    expect(renderProgress(progress(), { workflow })).toBe(
      '[#########---------------------]  30.0% node 3 KSampler 6/20 ETA 1.4s\n',
    )
  })

  it('names a node by its id alone when the workflow is unknown, and shows no steps for a one-step node', () => {
    expect(renderProgress(progress({ currentNode: '4', estimatedTimeRemaining: 65 }))).toBe(
      '[#########---------------------]  30.0% node 4 ETA 1m05s\n',
    )
    const { currentNode, ...nodeless } = progress({ estimatedTimeRemaining: 7380 })
    expect(currentNode).toBe('3')
    expect(renderProgress(nodeless)).toBe('[#########---------------------]  30.0% ETA 2h03m\n')
  })

  it('falls back to the class_type of a node without a title', () => {
    const untitled: Workflow = { '3': { class_type: 'KSampler', inputs: {} } }
    expect(renderProgress(progress(), { workflow: untitled })).toContain('node 3 KSampler 6/20')
  })

  it('redraws the bar in place on a TTY, without a newline', () => {
    const text = renderProgress(progress(), { tty: true, workflow })
    expect(text).toBe(
      `${ERASE}[${'█'.repeat(9)}${'░'.repeat(21)}]  30.0% node 3 KSampler 6/20 ETA 1.4s`,
    )
  })

  it('narrows the bar on a narrow terminal so that the node and ETA still fit on one line', () => {
    const text = renderProgress(progress(), { tty: true, workflow, columns: 60 })
    expect(text.slice(ERASE.length).length).toBeLessThan(60)
    expect(text).toContain('node 3 KSampler 6/20 ETA 1.4s')
  })

  it('cuts a line that cannot fit a very narrow terminal rather than let it wrap', () => {
    const text = renderProgress(progress(), { tty: true, workflow, columns: 20 })
    expect(text.slice(ERASE.length)).toHaveLength(19)
  })

  it('draws for 80 columns on a terminal that reports 0 columns, as when it does not tell its size', () => {
    const titled: Workflow = {
      '3': { class_type: 'KSampler', inputs: {}, _meta: { title: 'KSampler '.repeat(8) } },
    }
    const at = (columns?: number) =>
      renderProgress(progress(), {
        tty: true,
        workflow: titled,
        ...(columns === undefined ? {} : { columns }),
      })
    expect(at(0).slice(ERASE.length)).toHaveLength(79)
    expect(at(0)).toBe(at(80))
    expect(at(0)).toBe(at())
  })

  it('shows the final 100% without node nor ETA', () => {
    expect(renderProgress(progress({ progress: 100, estimatedTimeRemaining: 0 }))).toBe(
      '[##############################] 100.0%\n',
    )
  })

  it('gives queued and started lines of their own, also on a TTY', () => {
    const queued: JobEvent = { type: 'queued', promptId: 'p1', source: 'websocket', position: 2 }
    const started: JobEvent = { type: 'started', promptId: 'p1', source: 'websocket' }
    expect(renderProgress(queued)).toBe('queued: prompt p1, position 2\n')
    expect(renderProgress(started)).toBe('started\n')
    expect(renderProgress(started, { tty: true })).toBe(`${ERASE}started\n`)
  })

  it('sums up the completion, after a full bar on a TTY', () => {
    expect(renderProgress(completed(1))).toBe('completed in 2.3s: 1 image\n')
    expect(renderProgress(completed(2, 125_000))).toBe('completed in 2m05s: 2 images\n')
    expect(renderProgress(completed(0))).toBe('completed in 2.3s: no images\n')
    expect(renderProgress(completed(1), { tty: true })).toBe(
      `${ERASE}[${'█'.repeat(30)}] 100.0%\ncompleted in 2.3s: 1 image\n`,
    )
  })

  it('renders nothing for previews and node outputs', () => {
    const preview: JobEvent = {
      type: 'preview',
      promptId: 'p1',
      source: 'websocket',
      mime: 'image/jpeg',
      image: new Uint8Array(3),
    }
    const executed: JobEvent = {
      type: 'node_executed',
      promptId: 'p1',
      source: 'websocket',
      node: '9',
      output: null,
    }
    expect(renderProgress(preview, { tty: true })).toBe('')
    expect(renderProgress(executed)).toBe('')
  })

  it('throws a TypeError naming an invalid option', () => {
    expect(() => renderProgress(progress(), { columns: -1 })).toThrow(
      new TypeError('columns must be an integer >= 0, received -1'),
    )
    expect(() => renderProgress(progress(), { barWidth: 0 })).toThrow(
      new TypeError('barWidth must be an integer >= 1, received 0'),
    )
    expect(() => renderProgress(progress(), { barWidth: 1.5 })).toThrow(/barWidth/)
    expect(() => renderProgress(progress(), { tty: 'yes' as unknown as boolean })).toThrow(
      /tty must be a boolean/,
    )
  })
})
