import { freemem, totalmem } from 'node:os'
import { inputTypesOf } from './inputTypesOf.js'
import { json, status, text } from './Reply.js'
import type { HttpContext, Route } from './Route.js'
import type { SimulatedComfyVersion } from './SimulatedComfyVersion.js'
import type { SimulatedModels } from './SimulatedModels.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

const PYTHON_VERSION = '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]'

// comfy* packages of requirements.txt, as ComfyUI lists them; the templates are not installed,
// as on the pod the 0.3.64 traces come from.
const COMFY_PACKAGE_VERSIONS = [
  ['comfyui-frontend-package', '1.45.15', '1.45.15'],
  ['comfyui-workflow-templates', null, '0.10.0'],
  ['comfyui-embedded-docs', '0.5.4', '0.5.4'],
  ['comfy-kitchen', '0.2.10', '0.2.10'],
  ['comfy-aimdo', '0.4.10', '0.4.10'],
].map(([name, installed, required]) => ({ name, installed, required }))

// A CPU-only pod. 0.33 (v0.4.0) reports sys.platform as `os` and adds the comfy* package versions
// and the deploy environment (`local-git` without a .comfy_environment file).
function systemStats(ctx: HttpContext) {
  const system =
    ctx.version === '0.33'
      ? {
          os: 'linux',
          ram_total: totalmem(),
          ram_free: freemem(),
          comfyui_version: '0.33.0',
          required_frontend_version: '1.45.15',
          installed_templates_version: null,
          required_templates_version: '0.10.0',
          comfy_package_versions: COMFY_PACKAGE_VERSIONS,
          python_version: PYTHON_VERSION,
          pytorch_version: '2.8.0+cpu',
          embedded_python: false,
          deploy_environment: 'local-git',
          argv: ctx.argv,
        }
      : {
          os: 'posix',
          ram_total: totalmem(),
          ram_free: freemem(),
          comfyui_version: '0.3.64',
          required_frontend_version: '1.27.10',
          installed_templates_version: null,
          required_templates_version: '0.1.95',
          python_version: PYTHON_VERSION,
          pytorch_version: '2.8.0+cpu',
          embedded_python: false,
          argv: ctx.argv,
        }
  return {
    system,
    devices: [
      {
        name: 'cpu',
        type: 'cpu',
        index: null,
        vram_total: totalmem(),
        vram_free: freemem(),
        torch_vram_total: totalmem(),
        torch_vram_free: freemem(),
      },
    ],
  }
}

function nodeInfo(
  name: string,
  type: SimulatedNodeType,
  version: SimulatedComfyVersion,
): Record<string, unknown> {
  const input = inputTypesOf(type)
  const output = type.output ?? []
  const info: Record<string, unknown> = {
    input,
    input_order: Object.fromEntries(
      Object.entries(input).map(([k, v]) => [k, Object.keys(v as object)]),
    ),
    output,
    output_is_list: output.map(() => false),
    output_name: type.outputName ?? output,
    name,
    display_name: type.displayName ?? name,
    description: type.description ?? '',
    python_module: type.pythonModule ?? 'custom_nodes.simulator',
    category: type.category ?? 'simulator',
    output_node: type.outputNode === true,
  }
  if (version === '0.33') info['has_intermediate_output'] = type.hasIntermediateOutput === true
  if (type.outputTooltips !== undefined) info['output_tooltips'] = type.outputTooltips
  return info
}

const modelFolders = (models: SimulatedModels): Record<string, readonly string[]> => ({
  checkpoints: models.checkpoints,
  vae: models.vae,
})

/**
 * What the server says about itself: /system_stats, /object_info, /features, /embeddings,
 * /extensions and /models, in server.py's order, plus a plain GET of /ws.
 */
export const serverInfoRoutes: readonly Route[] = [
  [/^\/system_stats$/, { GET: ({ ctx }) => json(200, systemStats(ctx)) }],
  [
    /^\/object_info$/,
    {
      GET: ({ ctx }) =>
        json(
          200,
          Object.fromEntries(
            [...ctx.nodeTypes].map(([name, type]) => [name, nodeInfo(name, type, ctx.version)]),
          ),
        ),
    },
  ],
  [
    /^\/object_info\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const type = ctx.nodeTypes.get(param)
        return json(200, type === undefined ? {} : { [param]: nodeInfo(param, type, ctx.version) })
      },
    },
  ],
  [/^\/features$/, { GET: ({ ctx }) => json(200, ctx.serverFeatures()) }],
  // A plain GET of the socket path (no Upgrade header), answered like aiohttp's ws.prepare.
  [
    /^\/ws$/,
    {
      GET: () => text(400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'),
    },
  ],
  [/^\/embeddings$/, { GET: () => json(200, []) }],
  [/^\/extensions$/, { GET: () => json(200, []) }],
  [/^\/models$/, { GET: ({ ctx }) => json(200, Object.keys(modelFolders(ctx.models))) }],
  [
    /^\/models\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const list = modelFolders(ctx.models)[param]
        return list === undefined ? status(404) : json(200, list)
      },
    },
  ],
]
