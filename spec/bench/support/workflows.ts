import { readFileSync } from 'node:fs'
import type { Workflow } from '../../../src/index.js'
import { REPO_ROOT } from './measure.js'

const txt2img = JSON.parse(
  readFileSync(`${REPO_ROOT}examples/workflows/txt2img.json`, 'utf8'),
) as Workflow

/** The txt2img example with `steps` sampler steps and a fresh seed (the simulator caches). */
export function txt2imgWith(steps: number): Workflow {
  const sampler = txt2img['3']!
  return {
    ...txt2img,
    '3': {
      ...sampler,
      inputs: { ...sampler.inputs, steps, seed: Math.floor(Math.random() * 2 ** 48) },
    },
  }
}
