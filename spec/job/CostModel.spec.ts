import { describe, expect, it } from 'vitest'
import { CostModel, type LearnedCost } from '../../src/job/CostModel.js'

describe('CostModel', () => {
  it('starts from priors, and the first run of a class replaces its prior', () => {
    const model = new CostModel()
    expect(model.cost('CheckpointLoaderSimple')).toMatchObject({ runs: 0 })
    expect(model.cost('SomeCustomNode')).toEqual({ secondsPerRun: 0.2, runs: 0 })
    model.learn({ classType: 'CheckpointLoaderSimple', seconds: 7, steps: 0 })
    expect(model.cost('CheckpointLoaderSimple')).toEqual({ secondsPerRun: 7, runs: 1 })
    expect(model.costs()).toEqual({ CheckpointLoaderSimple: { secondsPerRun: 7, runs: 1 } })
  })

  it('learns seconds per step and the time outside the steps of a class that reports steps', () => {
    const model = new CostModel()
    // The recorded VAEDecodeTiled: 3.384 s, 12 steps 0.28 s apart.
    model.learn({ classType: 'VAEDecodeTiled', seconds: 3.384, steps: 12, secondsPerStep: 0.28 })
    const cost = model.cost('VAEDecodeTiled')
    expect(cost).toMatchObject({ secondsPerStep: 0.28, steps: 12, runs: 1 })
    expect(cost.secondsPerRun).toBeCloseTo(0.024, 6)
    expect(model.typicalSeconds('VAEDecodeTiled', 48)).toBeCloseTo(0.024 + 48 * 0.28, 6)
    expect(model.typicalSeconds('VAEDecodeTiled')).toBeCloseTo(3.384, 6)
  })

  it('averages its first runs, then follows the pod with recent runs weighing more', () => {
    const model = new CostModel()
    const seconds = (value: number) =>
      model.learn({ classType: 'VAEDecode', seconds: value, steps: 0 })
    seconds(1)
    seconds(2)
    expect(model.cost('VAEDecode').secondsPerRun).toBeCloseTo(1.5, 9)
    seconds(3)
    expect(model.cost('VAEDecode').secondsPerRun).toBeCloseTo(2, 9)
    // From the fourth run on, each weighs 0.3.
    seconds(4)
    expect(model.cost('VAEDecode')).toEqual({ secondsPerRun: 2.6, runs: 4 })
  })

  it('tells every cost it learns, for a store to share, and takes costs learnt elsewhere unless its own have more runs', () => {
    const model = new CostModel({
      costs: { KSampler: { secondsPerRun: 1, secondsPerStep: 0.5, steps: 20, runs: 5 } },
    })
    const learned: LearnedCost[] = []
    model.learned$.subscribe((cost) => learned.push(cost))
    model.learn({ classType: 'SaveImage', seconds: 0.1, steps: 0 })
    expect(learned).toEqual([{ classType: 'SaveImage', cost: { secondsPerRun: 0.1, runs: 1 } }])
    model.merge({
      KSampler: { secondsPerRun: 9, runs: 2 },
      SaveImage: { secondsPerRun: 0.3, runs: 8 },
    })
    expect(model.cost('KSampler')).toMatchObject({ secondsPerRun: 1, runs: 5 })
    expect(model.cost('SaveImage')).toEqual({ secondsPerRun: 0.3, runs: 8 })
    expect(learned).toHaveLength(1)
  })

  it('uses priors given for classes it has not learnt', () => {
    const model = new CostModel({
      priors: { MyUpscaler: { secondsPerRun: 0, secondsPerStep: 2, steps: 4 } },
    })
    expect(model.typicalSeconds('MyUpscaler')).toBe(8)
    expect(model.cost('MyUpscaler').runs).toBe(0)
  })

  it('throws a TypeError naming an invalid option or cost', () => {
    expect(() => new CostModel({ costs: null as never })).toThrow(
      new TypeError('costs must be an object, received null'),
    )
    expect(() => new CostModel({ costs: { KSampler: { secondsPerRun: -1, runs: 1 } } })).toThrow(
      /^costs\.KSampler must be a ClassCost/,
    )
    expect(() => new CostModel({ priors: { X: { secondsPerRun: Number.NaN } } })).toThrow(
      /^priors\.X must be a ClassCost/,
    )
  })
})
