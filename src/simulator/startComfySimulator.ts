import { createServer } from 'node:http'
import { invalid, nonNegative, positive } from '../internal/optionChecks.js'
import type { ComfySimulator } from './ComfySimulator.js'
import type { ComfySimulatorOptions } from './ComfySimulatorOptions.js'
import { simulatedComfyVersions } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import { SimulatorServer } from './SimulatorServer.js'

const DEFAULT_MODELS: SimulatedModels = {
  checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
  vae: ['random_taesd_vae.pt', 'vae-ft-mse-840000-ema-pruned.safetensors'],
}

/**
 * Starts a ComfyUI simulator (0.3.64 by default, or 0.33): a real HTTP + WebSocket server on
 * 127.0.0.1 (port 0 by default) that validates prompts, queues them, executes simulated nodes with
 * progress and previews, keeps history and serves PNGs, with the message order and routing of the
 * real server.
 *
 * @example
 * ```ts
 * import { startComfySimulator } from 'comfyui-rx/simulator'
 *
 * const sim = await startComfySimulator()
 * const res = await fetch(`${sim.url}/prompt`, {
 *   method: 'POST',
 *   body: JSON.stringify({
 *     prompt: {
 *       '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
 *       '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'demo' } },
 *     },
 *   }),
 * })
 * console.log(await res.json()) // { prompt_id: '…', number: 0, node_errors: {} }
 * await sim.close()
 * ```
 *
 * @param options see {@link ComfySimulatorOptions}
 * @returns the running simulator, once it listens
 * @throws TypeError when an option is out of range; the listen error when the port is taken
 */
export async function startComfySimulator(
  options: ComfySimulatorOptions = {},
): Promise<ComfySimulator> {
  const {
    version = '0.3.64',
    port = 0,
    host = '127.0.0.1',
    nodeDurationMs = 2,
    stepDurationMs = 5,
    previews = true,
    maxUploadSize = 100 * 1024 * 1024,
    cache = true,
    models = {},
    nodeTypes = {},
    timings = {},
    paused = false,
    enableCorsHeader,
  } = options
  if (!simulatedComfyVersions.includes(version)) {
    invalid('ComfySimulatorOptions.version', version, `one of ${simulatedComfyVersions.join(', ')}`)
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    invalid('ComfySimulatorOptions.port', port, 'an integer from 0 to 65535')
  }
  if (typeof host !== 'string' || host === '') {
    invalid('ComfySimulatorOptions.host', host, 'a non-empty string')
  }
  nonNegative('ComfySimulatorOptions.nodeDurationMs', nodeDurationMs)
  nonNegative('ComfySimulatorOptions.stepDurationMs', stepDurationMs)
  positive('ComfySimulatorOptions.maxUploadSize', maxUploadSize)
  for (const [classType, timing] of Object.entries(timings)) {
    for (const field of ['durationMs', 'stepDurationMs', 'loadMs'] as const) {
      const value = timing[field]
      if (value !== undefined)
        nonNegative(`ComfySimulatorOptions.timings.${classType}.${field}`, value)
    }
  }

  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // Errors after listening (none expected) must not crash the process that hosts the tests.
  server.on('error', () => {})
  const address = server.address()
  const actualPort = typeof address === 'object' && address !== null ? address.port : port
  return new SimulatorServer(server, host, actualPort, {
    version,
    nodeDurationMs,
    stepDurationMs,
    previews,
    maxUploadSize,
    cache,
    paused,
    enableCorsHeader,
    models: { ...DEFAULT_MODELS, ...models },
    nodeTypes,
    timings,
  })
}
