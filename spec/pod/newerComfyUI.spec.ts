import { lastValueFrom, toArray } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ComfyPod,
  ComfyPromptLostError,
  ComfyValidationError,
  type JobEvent,
  type Workflow,
} from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'

// Real sockets against the simulator as ComfyUI 0.33 and 0.3.64, pods and jobs with their
// default options.

let simulator: ComfySimulator
const pods: ComfyPod[] = []

async function start(version: '0.3.64' | '0.33', previews = true): Promise<ComfyPod> {
  simulator = await startComfySimulator({ version, stepDurationMs: 2, nodeDurationMs: 1, previews })
  const pod = new ComfyPod(simulator.url)
  pods.push(pod)
  return pod
}

/** Paths the pod was asked for, in order. */
function requests(): string[] {
  const paths: string[] = []
  simulator.on('request', (method, path) => paths.push(`${method} ${path}`))
  return paths
}

function run(pod: ComfyPod, workflow: Workflow, options = {}): Promise<JobEvent[]> {
  return lastValueFrom(pod.executeWorkflow$(workflow, options).pipe(toArray()))
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (error: unknown) => error,
  )
}

const image = (color: number): Workflow => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'newer' } },
})

const sampler = (steps: number): Workflow => ({
  '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
  '2': {
    class_type: 'CheckpointLoaderSimple',
    inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' },
  },
  '3': { class_type: 'CLIPTextEncode', inputs: { text: 'a', clip: ['2', 1] } },
  '4': {
    class_type: 'KSampler',
    inputs: {
      seed: Math.floor(Math.random() * 1e9),
      steps,
      cfg: 7,
      sampler_name: 'euler',
      scheduler: 'normal',
      denoise: 1,
      model: ['2', 0],
      positive: ['3', 0],
      negative: ['3', 0],
      latent_image: ['1', 0],
    },
  },
  '5': { class_type: 'VAEDecode', inputs: { samples: ['4', 0], vae: ['2', 2] } },
  '6': { class_type: 'SaveImage', inputs: { images: ['5', 0], filename_prefix: 'newer' } },
})

afterEach(async () => {
  for (const pod of pods.splice(0)) pod.close()
  await simulator.close()
})

describe('ComfyPod on ComfyUI 0.33', () => {
  it('follows its prompts through the Jobs API, never GET /queue or /history', async () => {
    const pod = await start('0.33')
    const asked = requests()
    simulator.pause()
    const job = run(pod, image(1), { socket: false })
    await new Promise((resolve) => simulator.once('promptQueued', resolve))
    simulator.resume()
    const events = await job
    expect(events.at(-1)?.type).toBe('completed')
    expect(events.find((event) => event.type === 'queued')).toMatchObject({ position: 0 })
    expect(asked).toContain('GET /jobs')
    expect(asked.some((path) => path.startsWith('GET /jobs/'))).toBe(true)
    expect(asked.filter((path) => /^GET \/(queue|history)/.test(path))).toEqual([])
  })

  it('declares a prompt deleted by another client lost after one shared queue read and two lookups by id', async () => {
    const pod = await start('0.33')
    simulator.pause()
    const queued = new Promise<string>((resolve) => simulator.once('promptQueued', resolve))
    const job = failure(run(pod, image(5)))
    const promptId = await queued
    await new Promise((resolve) => setTimeout(resolve, 100))
    const asked = requests()
    await fetch(`${simulator.url}/api/jobs/${promptId}/cancel`, { method: 'POST' })
    expect(await job).toBeInstanceOf(ComfyPromptLostError)
    // The status that shrank the queue: one list of live jobs, the prompt's 404, and one second
    // look a poll interval later, by id alone.
    expect(asked).toEqual([
      `POST /jobs/${promptId}/cancel`,
      'GET /jobs',
      `GET /jobs/${promptId}`,
      `GET /jobs/${promptId}`,
    ])
  })

  it('cancels atomically with POST /api/jobs/{id}/cancel', async () => {
    const pod = await start('0.33')
    simulator.pause()
    const { promptId } = await pod.queueWorkflow(image(2))
    const asked = requests()
    expect(await pod.cancel(promptId)).toBe('pending')
    expect(asked).toContain(`POST /jobs/${promptId}/cancel`)
    expect(asked.filter((path) => path.startsWith('POST /queue'))).toEqual([])
    expect(simulator.pendingPromptIds).toEqual([])
    // Nothing left to cancel: said so, and nothing else is touched.
    expect(await pod.cancel(promptId)).toBeUndefined()
  })

  it('fails a prompt whose node class the pod lacks with its node and the prompt id it asked for', async () => {
    const pod = await start('0.33')
    const workflow: Workflow = {
      ...image(3),
      '3': { class_type: 'VHS_VideoCombine', inputs: {}, _meta: { title: 'Video' } },
    }
    const promptId = crypto.randomUUID()
    const error = await failure(run(pod, workflow, { promptId }))
    expect(error).toBeInstanceOf(ComfyValidationError)
    expect(error).toMatchObject({
      type: 'missing_node_type',
      promptId,
      missingNodeType: { nodeId: '3', classType: 'VHS_VideoCombine' },
    })
  })

  it('fails a prompt with a dependency cycle with the nodes of the cycle', async () => {
    const pod = await start('0.33')
    const cycle: Workflow = {
      '1': { class_type: 'ImageInvert', inputs: { image: ['2', 0] } },
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'cycle' } },
    }
    const error = await failure(run(pod, cycle))
    expect(error).toBeInstanceOf(ComfyValidationError)
    expect([...((error as ComfyValidationError).cycleNodes ?? [])].sort()).toEqual(['1', '2'])
  })

  it('completes with the output of a cached node that sends executed without executing', async () => {
    const pod = await start('0.33')
    const crop = (color: number): Workflow => ({
      '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 9 } },
      '2': {
        class_type: 'ImageCropV2',
        inputs: { image: ['1', 0], crop_region: { x: 0, y: 0, width: 32, height: 32 } },
      },
      '3': { class_type: 'ImageInvert', inputs: { image: ['2', 0] } },
      '4': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: `c${color}` } },
    })
    await run(pod, crop(1))
    // The crop is cached the second time: its executed comes alone, just before the end.
    const events = await run(pod, crop(2))
    expect(events.at(-1)?.type).toBe('completed')
    const executed = events.flatMap((event) => (event.type === 'node_executed' ? [event.node] : []))
    expect(executed).toContain('2')
    const progress = events.flatMap((event) => (event.type === 'progress' ? [event.progress] : []))
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(progress.at(-1)).toBe(100)
  })

  it('asks for previews of one prompt with previewMethod, or for none', async () => {
    const pod = await start('0.33', false)
    const previews = (events: JobEvent[]) => events.filter((event) => event.type === 'preview')
    expect(previews(await run(pod, sampler(3)))).toEqual([])
    expect(previews(await run(pod, sampler(3), { previewMethod: 'auto' }))).toHaveLength(3)
  })

  it('reads system_stats with the new os names and fields', async () => {
    const pod = await start('0.33')
    const stats = await pod.getSystemStats()
    expect(stats.system.os).toBe('linux')
    expect(stats.system.comfyui_version).toBe('0.33.0')
  })
})

describe('ComfyPod on ComfyUI 0.3.64', () => {
  it('learns from one 404 that the pod has no Jobs API, and uses /queue and /history', async () => {
    const pod = await start('0.3.64')
    const asked = requests()
    const events = await Promise.all([1, 2, 3].map((n) => run(pod, image(n), { socket: false })))
    expect(events.map((each) => each.at(-1)?.type)).toEqual(['completed', 'completed', 'completed'])
    expect(asked.filter((path) => path.startsWith('GET /jobs'))).toHaveLength(1)
    expect(asked.some((path) => path === 'GET /queue')).toBe(true)
    expect(asked.some((path) => path.startsWith('GET /history/'))).toBe(true)
  })

  it('refuses a promptId that is not a canonical UUID before anything is sent', async () => {
    const pod = await start('0.3.64')
    const asked = requests()
    expect(() => pod.executeWorkflow$(image(4), { promptId: 'job-4' })).toThrow(TypeError)
    expect(() => pod.queueWorkflow(image(4), { promptId: 'JOB' })).toThrow(/promptId/)
    expect(asked).toEqual([])
  })
})

describe.each(['0.3.64', '0.33'] as const)('SaveImageWebsocket on ComfyUI %s', (version) => {
  it('sends its image on every run: it is never served from cache', async () => {
    const pod = await start(version)
    const workflow: Workflow = {
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 5 } },
      '2': { class_type: 'SaveImageWebsocket', inputs: { images: ['1', 0] } },
    }
    for (let i = 0; i < 2; i++) {
      const events = await run(pod, workflow)
      expect(events.at(-1)?.type).toBe('completed')
      expect(events.filter((event) => event.type === 'preview')).toHaveLength(1)
    }
  })
})
