import { isRight } from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { History, PromptAccepted, PromptRejected, Queue, SystemStats } from '../../src/index.js'
import type { ComfyPackageVersion } from '../../src/protocol/SystemStats.js'
import { readTrace, TRACE_NAMES } from '../support/traces.js'

function codecFor(
  method: string,
  path: string,
  status: number,
): t.Decoder<unknown, unknown> | undefined {
  if (method === 'POST' && path === '/prompt')
    return status === 200 ? PromptAccepted : PromptRejected
  if (path.startsWith('/history/')) return History
  if (path === '/queue') return Queue
  if (path === '/system_stats') return SystemStats
  return undefined
}

describe('REST body codecs', () => {
  it.each(TRACE_NAMES)('decode every answer recorded in the %s trace', (name) => {
    let checked = 0
    for (const entry of readTrace(name)) {
      if (entry.dir !== 'http') continue
      const codec = codecFor(entry.method, entry.path, entry.status)
      expect(codec, `${entry.method} ${entry.path}`).toBeDefined()
      expect(isRight(codec!.decode(entry.resp)), `${entry.method} ${entry.path}`).toBe(true)
      checked++
    }
    expect(checked).toBeGreaterThan(0)
  })

  it('accept a 400 whose error is a plain string', () => {
    expect(isRight(PromptRejected.decode({ error: 'bad', node_errors: {} }))).toBe(true)
  })

  it('read a history entry of an old server with no status', () => {
    expect(isRight(History.decode({ p: { outputs: {}, prompt: [] } }))).toBe(true)
  })

  it('keep the extra keys of file entries in history outputs, such as the asset id', () => {
    const image = { filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output', id: 'a1' }
    const entry = History.decode({ p: { outputs: { '9': { images: [image] } }, prompt: [] } })
    expect(isRight(entry) && entry.right['p']?.outputs['9']).toEqual({ images: [image] })
  })

  it('read a history entry whose status is null, as task_done writes one given none', () => {
    const decoded = History.decode({ p: { outputs: {}, prompt: [], status: null, meta: {} } })
    expect(isRight(decoded) && decoded.right['p']?.status).toBeNull()
  })

  describe('system_stats', () => {
    const stats = (
      system: object,
      devices: object[] = [{ name: 'cpu', type: 'cpu', index: null }],
    ) => ({
      system,
      devices,
    })

    it.each(['linux', 'win32', 'darwin', 'posix', 'nt'])('accept the os %s', (os) => {
      const decoded = SystemStats.decode(stats({ os }))
      expect(isRight(decoded) && decoded.right.system.os).toBe(os)
    })

    it('read the package versions, template versions and deploy environment of 0.33', () => {
      const body = stats({
        os: 'linux',
        ram_total: 67430000000,
        ram_free: 41000000000,
        comfyui_version: '0.33.0',
        required_frontend_version: '1.45.21',
        installed_templates_version: null,
        required_templates_version: '0.11.15',
        comfy_package_versions: [
          { name: 'comfyui-frontend-package', installed: '1.45.21', required: '1.45.21' },
          { name: 'comfyui-workflow-templates', installed: null, required: '0.11.15' },
        ],
        python_version: '3.12.13 (main, Mar  3 2026, 12:39:30) [GCC 13.3.0]',
        pytorch_version: '2.9.0+cu128',
        embedded_python: false,
        deploy_environment: 'local-git',
        argv: ['main.py', '--listen', '0.0.0.0'],
      })
      const decoded = SystemStats.decode(body)
      expect(isRight(decoded) && decoded.right).toEqual(body)
      if (!isRight(decoded)) return
      const { system } = decoded.right
      expectTypeOf(system.comfy_package_versions).toEqualTypeOf<ComfyPackageVersion[] | undefined>()
      expectTypeOf(system.deploy_environment).toEqualTypeOf<string | undefined>()
      expectTypeOf(system.installed_templates_version).toEqualTypeOf<string | null | undefined>()
      expect(system.comfy_package_versions?.[1]?.installed).toBeNull()
    })

    it('read every device, the primary first', () => {
      const devices = [
        {
          name: 'cuda:0 NVIDIA RTX 4090 : cudaMallocAsync',
          type: 'cuda',
          index: 0,
          vram_total: 25e9,
          vram_free: 24e9,
          torch_vram_total: 0,
          torch_vram_free: 0,
        },
        {
          name: 'cuda:1 NVIDIA RTX 4090 : cudaMallocAsync',
          type: 'cuda',
          index: 1,
          vram_total: 25e9,
          vram_free: 25e9,
          torch_vram_total: 0,
          torch_vram_free: 0,
        },
        { name: 'mps', type: 'mps', index: null },
      ]
      const decoded = SystemStats.decode(stats({ os: 'linux' }, devices))
      expect(isRight(decoded) && decoded.right.devices).toEqual(devices)
    })

    it('reject a package entry without its name', () => {
      expect(
        isRight(SystemStats.decode(stats({ comfy_package_versions: [{ installed: '1' }] }))),
      ).toBe(false)
    })
  })
})
