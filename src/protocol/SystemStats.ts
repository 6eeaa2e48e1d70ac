import * as t from 'io-ts'

/** One ComfyUI package of `system.comfy_package_versions`: null where a version is unknown. */
export const ComfyPackageVersion = t.intersection([
  t.type({ name: t.string }),
  t.partial({
    installed: t.union([t.string, t.null]),
    required: t.union([t.string, t.null]),
  }),
])
export type ComfyPackageVersion = t.TypeOf<typeof ComfyPackageVersion>

/**
 * `GET /system_stats`; the set of fields varies by server version (§5.11). `os` is `sys.platform`
 * (`linux`, `win32`, `darwin`) since v0.4.0, `os.name` (`posix`, `nt`) before. `devices` lists
 * every device, the primary one first; `index` is null where a device has no ordinal (MPS). The
 * package and template versions are null where the server cannot tell (package not installed).
 */
export const SystemStats = t.type({
  system: t.partial({
    os: t.string,
    ram_total: t.number,
    ram_free: t.number,
    comfyui_version: t.string,
    required_frontend_version: t.union([t.string, t.null]),
    installed_templates_version: t.union([t.string, t.null]),
    required_templates_version: t.union([t.string, t.null]),
    comfy_package_versions: t.array(ComfyPackageVersion),
    python_version: t.string,
    pytorch_version: t.string,
    embedded_python: t.boolean,
    deploy_environment: t.string,
    argv: t.array(t.string),
  }),
  devices: t.array(
    t.partial({
      name: t.string,
      type: t.string,
      index: t.union([t.number, t.null]),
      vram_total: t.number,
      vram_free: t.number,
      torch_vram_total: t.number,
      torch_vram_free: t.number,
    }),
  ),
})
export type SystemStats = t.TypeOf<typeof SystemStats>
