import { describe, expect, it } from 'vitest'
import { startComfySimulator } from '../../src/simulator/index.js'
import type { ComfySimulator, SimulatedComfyVersion } from '../../src/simulator/index.js'
import { queuePrompt, request, tiny, txt2img, useSimulators } from './simulatorTestKit.js'
import type { Message, TestSocket } from './simulatorTestKit.js'

// What a simulator of version '0.33' does differently from the default '0.3.64' (the Jobs API has
// its own spec), and that '0.3.64' keeps doing what the recorded traces show.

const { start, connect } = useSimulators()

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const types = (messages: readonly Message[]) => messages.map((m) => m.type)

/** An image cropped by ImageCropV2 (0.33's node with an intermediate output), then saved. */
function cropped(prefix: string): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 48, batch_size: 1, color: 7 } },
    '2': {
      class_type: 'ImageCropV2',
      inputs: { image: ['1', 0], crop_region: { x: 40, y: 8, width: 32, height: 16 } },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
  }
}

/** Two image inverters feeding each other, one of them saved. */
const cycle = {
  '1': { class_type: 'ImageInvert', inputs: { image: ['2', 0] } },
  '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'loop' } },
}

/** The text messages of one prompt, from its execution_start to its executing null. */
async function runOn(socket: TestSocket, sim: ComfySimulator, body: Record<string, unknown>) {
  const from = socket.messages.length
  const id = await queuePrompt(sim, body)
  await socket.done(id)
  return socket.messages
    .slice(from)
    .filter((m) => m.type !== 'status' && m.type !== 'progress_state')
}

describe('startComfySimulator version', () => {
  it("is '0.3.64' by default, read back as sim.version, and validated", async () => {
    expect((await start()).version).toBe('0.3.64')
    expect((await start({ version: '0.33' })).version).toBe('0.33')
    await expect(startComfySimulator({ version: '0.34' as SimulatedComfyVersion })).rejects.toThrow(
      /ComfySimulatorOptions\.version must be one of 0\.3\.64, 0\.33, received "0\.34"/,
    )
  })

  describe('client prompt_id', () => {
    it('must be a canonical lower-case UUID on 0.33; absent or null, the server picks one', async () => {
      const sim = await start({ version: '0.33', paused: true })
      const invalid = {
        error: {
          type: 'invalid_prompt_id',
          message: 'prompt_id must be a valid UUID',
          details:
            'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
          extra_info: {},
        },
        node_errors: {},
      }
      const canonical = '0f5a4c6e-2d3b-4a1c-9e8f-7a6b5c4d3e2f'
      for (const promptId of [
        'my-id',
        canonical.toUpperCase(),
        canonical.replaceAll('-', ''),
        `{${canonical}}`,
        42,
        '',
      ]) {
        const res = await request(sim, 'POST', '/prompt', { prompt: tiny(), prompt_id: promptId })
        expect({ promptId, status: res.status, body: res.body }).toEqual({
          promptId,
          status: 400,
          body: invalid,
        })
      }
      expect(sim.queueRemaining).toBe(0)
      expect(await queuePrompt(sim, { prompt: tiny(), prompt_id: canonical })).toBe(canonical)
      expect(await queuePrompt(sim, { prompt: tiny(), prompt_id: null })).toMatch(UUID)
      expect(await queuePrompt(sim, { prompt: tiny() })).toMatch(UUID)
    })

    it('is taken as given on 0.3.64', async () => {
      const sim = await start({ paused: true })
      expect(await queuePrompt(sim, { prompt: tiny(), prompt_id: 'my-id' })).toBe('my-id')
      expect(await queuePrompt(sim, { prompt: tiny(), prompt_id: 7 })).toBe('7')
    })
  })

  describe('extra_data of queue items', () => {
    it('carries create_time and no credentials on 0.33', async () => {
      const sim = await start({ version: '0.33', paused: true })
      const before = Date.now()
      await queuePrompt(sim, {
        prompt: tiny(),
        client_id: 'q',
        extra_data: { api_key_comfy_org: 'secret', auth_token_comfy_org: 'token', mine: 1 },
      })
      const after = Date.now()
      const queue = (await request(sim, 'GET', '/queue')).body as { queue_pending: unknown[][] }
      const extraData = queue.queue_pending[0]?.[3] as Record<string, unknown>
      expect(extraData).toEqual({ mine: 1, client_id: 'q', create_time: expect.any(Number) })
      expect(extraData['create_time']).toBeGreaterThanOrEqual(before)
      expect(extraData['create_time']).toBeLessThanOrEqual(after)
    })

    it('is kept as sent on 0.3.64', async () => {
      const sim = await start({ paused: true })
      await queuePrompt(sim, {
        prompt: tiny(),
        client_id: 'q',
        extra_data: { api_key_comfy_org: 'secret' },
      })
      const queue = (await request(sim, 'GET', '/queue')).body as { queue_pending: unknown[][] }
      expect(queue.queue_pending[0]?.[3]).toEqual({ api_key_comfy_org: 'secret', client_id: 'q' })
    })
  })

  describe('validation', () => {
    it('answers a dependency cycle with dependency_cycle node errors on 0.33', async () => {
      const sim = await start({ version: '0.33' })
      const res = await request(sim, 'POST', '/prompt', { prompt: cycle })
      const details = '2 (ImageInvert) -> 1 (ImageInvert) -> 2 (ImageInvert)'
      const error = (nodeId: string) => ({
        errors: [
          {
            type: 'dependency_cycle',
            message: 'Dependency cycle detected',
            details,
            extra_info: { node_id: nodeId, cycle_nodes: ['2', '1'] },
          },
        ],
        dependent_outputs: ['3'],
        class_type: 'ImageInvert',
      })
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        error: {
          type: 'prompt_outputs_failed_validation',
          message: 'Prompt outputs failed validation',
          details: '',
          extra_info: {},
        },
        node_errors: { '2': error('2'), '1': error('1') },
      })
      expect(sim.queueRemaining).toBe(0)
    })

    it('keeps 0.3.64 answering a cycle with empty reasons, as its runaway recursion does', async () => {
      const sim = await start()
      const res = await request(sim, 'POST', '/prompt', { prompt: cycle })
      expect(res).toMatchObject({
        status: 400,
        body: {
          error: { type: 'prompt_outputs_failed_validation', details: '' },
          node_errors: {},
        },
      })
    })

    it('answers an unknown or missing class_type with missing_node_type on 0.33', async () => {
      const sim = await start({ version: '0.33' })
      const post = async (node: unknown) =>
        (await request(sim, 'POST', '/prompt', { prompt: { ...tiny(), '7': node } })).body
      expect(await post({ class_type: 'NoSuchNode', inputs: {} })).toEqual({
        error: {
          type: 'missing_node_type',
          message: "Node 'NoSuchNode' not found. The custom node may not be installed.",
          details: "Node ID '#7'",
          extra_info: { node_id: '7', class_type: 'NoSuchNode', node_title: 'NoSuchNode' },
        },
        node_errors: {},
      })
      expect(
        await post({ class_type: 'NoSuchNode', inputs: {}, _meta: { title: 'My upscaler' } }),
      ).toMatchObject({
        error: {
          message: "Node 'My upscaler' not found. The custom node may not be installed.",
          extra_info: { node_id: '7', class_type: 'NoSuchNode', node_title: 'My upscaler' },
        },
      })
      expect(await post({ inputs: {} })).toEqual({
        error: {
          type: 'missing_node_type',
          message:
            "Node 'ID #7' has no class_type. The workflow may be corrupted or a custom node is missing.",
          details: "Node ID '#7'",
          extra_info: { node_id: '7', class_type: null, node_title: null },
        },
        node_errors: {},
      })
      expect(await post({ inputs: {}, _meta: { title: 'Lost' } })).toMatchObject({
        error: { message: expect.stringMatching(/^Node 'Lost' has no class_type\./) },
      })
      const list = await request(sim, 'POST', '/prompt', { prompt: { ...tiny(), '7': [] } })
      expect(list.status).toBe(500)
    })

    it('answers them with invalid_prompt on 0.3.64', async () => {
      const sim = await start()
      const res = await request(sim, 'POST', '/prompt', {
        prompt: { ...tiny(), '7': { class_type: 'NoSuchNode', inputs: {} } },
      })
      expect(res.body).toEqual({
        error: {
          type: 'invalid_prompt',
          message: 'Cannot execute because node NoSuchNode does not exist.',
          details: "Node ID '#7'",
          extra_info: {},
        },
        node_errors: {},
      })
    })
  })

  describe('/system_stats', () => {
    it('reports linux, 0.33.0, the comfy package versions and the deploy environment on 0.33', async () => {
      const sim = await start({ version: '0.33' })
      const { system, devices } = (await request(sim, 'GET', '/system_stats')).body as {
        system: Record<string, unknown>
        devices: object[]
      }
      expect(Object.keys(system)).toEqual([
        'os',
        'ram_total',
        'ram_free',
        'comfyui_version',
        'required_frontend_version',
        'installed_templates_version',
        'required_templates_version',
        'comfy_package_versions',
        'python_version',
        'pytorch_version',
        'embedded_python',
        'deploy_environment',
        'argv',
      ])
      expect(system).toMatchObject({
        os: 'linux',
        comfyui_version: '0.33.0',
        deploy_environment: 'local-git',
      })
      expect(system['comfy_package_versions']).toContainEqual({
        name: 'comfyui-frontend-package',
        installed: expect.any(String),
        required: system['required_frontend_version'],
      })
      expect(devices).toHaveLength(1)
    })

    it('reports posix and 0.3.64 without the newer fields on 0.3.64', async () => {
      const sim = await start()
      const { system } = (await request(sim, 'GET', '/system_stats')).body as {
        system: Record<string, unknown>
      }
      expect(system).toMatchObject({ os: 'posix', comfyui_version: '0.3.64' })
      expect(system).not.toHaveProperty('comfy_package_versions')
      expect(system).not.toHaveProperty('deploy_environment')
    })
  })

  describe('intermediate outputs', () => {
    it('lists ImageCropV2 with has_intermediate_output on 0.33 only', async () => {
      const newer = await start({ version: '0.33' })
      const info = (await request(newer, 'GET', '/object_info')).body as Record<
        string,
        Record<string, unknown>
      >
      expect(info['ImageCropV2']).toMatchObject({
        display_name: 'Crop Image',
        output: ['IMAGE'],
        output_node: false,
        has_intermediate_output: true,
      })
      expect(info['SaveImage']?.['has_intermediate_output']).toBe(false)
      const older = await start()
      expect((await request(older, 'GET', '/object_info/ImageCropV2')).body).toEqual({})
      const saveImage = (await request(older, 'GET', '/object_info/SaveImage')).body as Record<
        string,
        object
      >
      expect(saveImage['SaveImage']).not.toHaveProperty('has_intermediate_output')
    })

    it('re-sends a cached one as executed without executing, just before execution_success', async () => {
      const sim = await start({ version: '0.33' })
      const socket = await connect(sim, 'i')
      const first = await runOn(socket, sim, { prompt: cropped('a'), client_id: 'i' })
      expect(types(first)).toEqual([
        'execution_start',
        'execution_cached',
        'executing',
        'executing',
        'executed',
        'executing',
        'executed',
        'execution_success',
        'executing',
      ])
      const cropUi = first.find((m) => m.type === 'executed' && m.data['node'] === '2')?.data[
        'output'
      ]
      expect(cropUi).toEqual({
        images: [
          {
            filename: expect.stringMatching(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/),
            subfolder: '',
            type: 'temp',
          },
        ],
        animated: [false],
      })

      // Only the SaveImage prefix changed: the crop is cached and comes after the new save.
      const second = await runOn(socket, sim, { prompt: cropped('b'), client_id: 'i' })
      expect(second.map((m) => [m.type, m.data['node']])).toEqual([
        ['execution_start', undefined],
        ['execution_cached', undefined],
        ['executing', '3'],
        ['executed', '3'],
        ['executed', '2'],
        ['execution_success', undefined],
        ['executing', null],
      ])
      expect(second[1]?.data['nodes']).toEqual(['1', '2'])
      expect(second[4]?.data).toEqual({
        node: '2',
        display_node: '2',
        output: cropUi,
        prompt_id: second[0]?.data['prompt_id'],
      })
      const id = second[0]?.data['prompt_id'] as string
      const entry = ((await request(sim, 'GET', `/history/${id}`)).body as Record<string, object>)[
        id
      ]
      expect(entry).toMatchObject({ outputs: { '2': cropUi, '3': expect.anything() } })

      // Everything cached: the cached output node first, then the intermediate one.
      const third = await runOn(socket, sim, { prompt: cropped('b'), client_id: 'i' })
      expect(third.map((m) => [m.type, m.data['node']])).toEqual([
        ['execution_start', undefined],
        ['execution_cached', undefined],
        ['executed', '3'],
        ['executed', '2'],
        ['execution_success', undefined],
        ['executing', null],
      ])
    })

    it('are not re-sent on 0.3.64', async () => {
      const sim = await start({
        nodeTypes: {
          Crop: {
            input: { required: { image: ['IMAGE'] } },
            output: ['IMAGE'],
            hasIntermediateOutput: true,
            execute: ({ inputs }) => ({ outputs: [inputs['image']], ui: { text: ['crop'] } }),
          },
        },
      })
      const socket = await connect(sim, 'i')
      const prompt = (prefix: string) => ({
        ...tiny(prefix),
        '2': { class_type: 'Crop', inputs: { image: ['1', 0] } },
        '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
      })
      await runOn(socket, sim, { prompt: prompt('a'), client_id: 'i' })
      const second = await runOn(socket, sim, { prompt: prompt('b'), client_id: 'i' })
      expect(second.filter((m) => m.type === 'executed').map((m) => m.data['node'])).toEqual(['3'])
    })
  })

  describe('history outputs', () => {
    it('hold only what ran or was re-sent in this prompt on 0.33, every cached UI of the prompt on 0.3.64', async () => {
      const prompt = {
        ...tiny('all'),
        '3': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
      }
      const outputsOf = async (version: SimulatedComfyVersion) => {
        const sim = await start({ version })
        const socket = await connect(sim, 'h')
        await runOn(socket, sim, { prompt, client_id: 'h' })
        const [start_] = await runOn(socket, sim, {
          prompt,
          client_id: 'h',
          partial_execution_targets: ['3'],
        })
        const id = start_?.data['prompt_id'] as string
        const history = (await request(sim, 'GET', `/history/${id}`)).body as Record<
          string,
          { outputs: object }
        >
        return Object.keys(history[id]?.outputs ?? {})
      }
      expect(await outputsOf('0.33')).toEqual(['3'])
      expect(await outputsOf('0.3.64')).toEqual(['2', '3'])
    })
  })

  describe('extra_data.preview_method', () => {
    const previewFrames = async (
      version: SimulatedComfyVersion,
      previews: boolean,
      method: unknown,
    ) => {
      const sim = await start({ version, previews })
      const socket = await connect(sim, 'p')
      const id = await queuePrompt(sim, {
        prompt: txt2img(3),
        client_id: 'p',
        extra_data: { preview_method: method },
      })
      await socket.done(id)
      return socket.binaries.length
    }

    it("turns previews on or off for one prompt on 0.33; 'default' keeps the server's", async () => {
      expect(await previewFrames('0.33', false, 'latent2rgb')).toBe(3)
      expect(await previewFrames('0.33', false, 'auto')).toBe(3)
      expect(await previewFrames('0.33', false, 'taesd')).toBe(3)
      expect(await previewFrames('0.33', true, 'none')).toBe(0)
      expect(await previewFrames('0.33', true, 'default')).toBe(3)
      expect(await previewFrames('0.33', false, 'default')).toBe(0)
      expect(await previewFrames('0.33', false, 'bogus')).toBe(0)
    })

    it('is ignored on 0.3.64', async () => {
      expect(await previewFrames('0.3.64', false, 'auto')).toBe(0)
      expect(await previewFrames('0.3.64', true, 'none')).toBe(3)
    })

    it('never stops the images SaveImageWebsocket sends', async () => {
      const sim = await start({ version: '0.33' })
      const socket = await connect(sim, 'w')
      const id = await queuePrompt(sim, {
        prompt: {
          '1': {
            class_type: 'EmptyImage',
            inputs: { width: 8, height: 8, batch_size: 2, color: 0 },
          },
          '2': { class_type: 'SaveImageWebsocket', inputs: { images: ['1', 0] } },
        },
        client_id: 'w',
        extra_data: { preview_method: 'none' },
      })
      await socket.done(id)
      expect(socket.binaries).toHaveLength(2)
    })
  })
})
