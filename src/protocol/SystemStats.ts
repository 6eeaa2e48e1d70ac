import * as t from 'io-ts'

/** `GET /system_stats`; the set of fields varies by server version (§5.11). */
export const SystemStats = t.type({
  system: t.partial({
    os: t.string,
    ram_total: t.number,
    ram_free: t.number,
    comfyui_version: t.string,
    python_version: t.string,
    pytorch_version: t.string,
    embedded_python: t.boolean,
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
