import type { Workflow } from '../../src/index.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

/** txt2img with `steps` sampler steps and a random seed (the simulator caches identical nodes). */
export function txt2imgWith(steps: number): Workflow {
  const workflow = txt2img as Workflow
  return {
    ...workflow,
    '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, steps, seed: randomSeed() } },
  }
}

/** The cheapest workflow that saves an image: two nodes, no sampler. */
export function tinyImage(): Workflow {
  return {
    '1': {
      class_type: 'EmptyImage',
      inputs: { width: 8, height: 8, batch_size: 1, color: Math.floor(Math.random() * 0xffffff) },
    },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'tiny' } },
  }
}

/** Resolves with the rejection of a promise that must fail. */
export function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (error: unknown) => error,
  )
}

/** Resolves once `predicate` holds, checking after each turn of the event loop. */
export function until(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (predicate() ? resolve() : setImmediate(check))
    check()
  })
}

/** An integer seed (the sampler's `seed` is an INT: fractions would all be cached as one). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32)
}
