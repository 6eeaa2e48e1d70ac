import { describe, expect, it } from 'vitest'
import { against, median, percentile, type Section } from './support/measure.js'
import { format, render } from './support/render.js'

// The report's arithmetic and layout; the benchmarks themselves run with `npm run bench` only.

describe('benchmark statistics', () => {
  it('takes nearest-rank percentiles, so p100 is the maximum and p50 a measured value', () => {
    const values = [5, 1, 4, 2, 3]
    expect(percentile(values, 50)).toBe(3)
    expect(percentile(values, 99)).toBe(5)
    expect(percentile(values, 100)).toBe(5)
    expect(percentile(values, 0)).toBe(1)
    expect(median([2, 1])).toBe(1)
    expect(percentile([], 50)).toBeNaN()
  })

  it('sets a figure against its baseline as figure ÷ baseline, with the target met or missed', () => {
    const figure = against(
      'cost',
      6,
      'µs',
      { label: 'JSON.parse', value: 1.5 },
      {
        text: '≤ 2× JSON.parse',
        pass: false,
      },
    )
    expect(figure).toEqual({
      label: 'cost',
      value: 6,
      unit: 'µs',
      baseline: { label: 'JSON.parse', value: 1.5, unit: 'µs' },
      ratio: 4,
      target: '≤ 2× JSON.parse',
      pass: false,
    })
  })
})

describe('BENCHMARKS.md', () => {
  it('prints bytes in KB from 1 KB on, ratios with two decimals, times with their unit', () => {
    expect(format(950, 'B')).toBe('950 B')
    expect(format(56_666, 'B')).toBe('55.3 KB')
    expect(format(3.6049, '×')).toBe('3.60×')
    expect(format(246.2, 'µs')).toBe('246 µs')
    expect(format(6.531, 'µs')).toBe('6.53 µs')
    expect(format(10_599.4, '/s')).toBe('10599/s')
  })

  it('lists the machine, every target with pass or miss, each section, and what failed', () => {
    const section: Section = {
      id: 'memory',
      title: '3. Memory (heap)',
      method: 'Heap after GC.',
      figures: [
        against(
          'heap per job',
          4096,
          'B',
          { label: 'bare Subject', value: 1024 },
          {
            text: '≤ 2 KB',
            pass: false,
          },
        ),
        against('heap per pod', 2048, 'B', { label: 'bare ws', value: 1024 }),
      ],
      notes: ['No leak.'],
      markdown: '| extra |',
    }
    const markdown = render(
      [section],
      ['latency: the flood server did not start'],
      [['Node.js', 'v20.20.2']],
    )
    expect(markdown).toContain('| Node.js | v20.20.2 |')
    expect(markdown).toContain(
      '| 3. Memory: heap per job | 4.0 KB | 1.0 KB (bare Subject) | 4.00× | ≤ 2 KB | **miss** |',
    )
    expect(markdown).toContain('| heap per pod | 2.0 KB | 1.0 KB (bare ws) | 2.00× |  |  |')
    expect(markdown).toContain('- **not measured**: latency: the flood server did not start')
    expect(markdown).toContain('## 3. Memory (heap)\n\nHeap after GC.')
    expect(markdown).toContain('| extra |')
    expect(markdown).toContain('- No leak.')
  })
})
