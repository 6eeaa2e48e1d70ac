import { describe, expect, it } from 'vitest'
import { expectedNodes } from '../../src/job/expectedNodes.js'
import type { Workflow } from '../../src/job/Workflow.js'

const graph = (): Workflow => ({
  '1': { class_type: 'EmptyLatentImage', inputs: {} },
  '2': { class_type: 'KSampler', inputs: { latent_image: ['1', 0], seed: 1, steps: 20 } },
  '3': { class_type: 'VAEDecode', inputs: { samples: ['2', 0] } },
  '4': { class_type: 'SaveImage', inputs: { images: ['3', 0] } },
  '9': { class_type: 'Note', inputs: {} },
})

describe('expectedNodes', () => {
  it('expects the output nodes and what they depend on, with their class and steps', () => {
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
    expect([...expectedNodes(graph())].sort(byId)).toEqual([
      { id: '1', classType: 'EmptyLatentImage' },
      { id: '2', classType: 'KSampler', steps: 20 },
      { id: '3', classType: 'VAEDecode' },
      { id: '4', classType: 'SaveImage' },
    ])
  })

  it('gives the jobs of one graph one shared answer, and a changed graph its own', () => {
    const template = graph()
    const first = expectedNodes(template)
    expect(expectedNodes(graph())).toBe(first)
    // The same object, rewired: a stale answer would expect the old graph.
    template['4'] = { class_type: 'SaveImage', inputs: { images: ['2', 0] } }
    expect(
      expectedNodes(template)
        .map((node) => node.id)
        .sort(),
    ).toEqual(['1', '2', '4'])
    expect(expectedNodes(graph())).toBe(first)
  })
})
