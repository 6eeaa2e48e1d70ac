import { deflateSync } from 'node:zlib'

// Real PNG bytes (not a stub) so clients can decode what /view and preview frames give them;
// a solid colour compresses to a few hundred bytes whatever the size.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

// Like PIL's PngInfo.add_text: tEXt when the text is Latin-1, iTXt (UTF-8) otherwise.
function textChunk(key: string, value: string): Buffer {
  const keyword = Buffer.from(key, 'latin1')
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u00ff]*$/.test(value)) {
    return chunk('tEXt', Buffer.concat([keyword, Buffer.from([0]), Buffer.from(value, 'latin1')]))
  }
  const flags = Buffer.from([0, 0, 0, 0, 0]) // NUL, no compression, method 0, empty language and translation
  return chunk('iTXt', Buffer.concat([keyword, flags, Buffer.from(value, 'utf8')]))
}

/** The 8 bytes every PNG starts with. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/**
 * Encodes a solid-colour 8-bit RGB PNG, with optional tEXt chunks (SaveImage stores the prompt
 * and workflow there).
 */
export function encodePng(
  width: number,
  height: number,
  color: number,
  text: Readonly<Record<string, string>> = {},
): Buffer {
  const w = Math.max(1, Math.floor(width))
  const h = Math.max(1, Math.floor(height))
  const row = Buffer.alloc(1 + w * 3)
  for (let x = 0; x < w; x++) {
    row[1 + x * 3] = (color >> 16) & 0xff
    row[2 + x * 3] = (color >> 8) & 0xff
    row[3 + x * 3] = color & 0xff
  }
  const raw = Buffer.alloc(row.length * h)
  for (let y = 0; y < h; y++) row.copy(raw, y * row.length)
  const header = Buffer.alloc(13)
  header.writeUInt32BE(w, 0)
  header.writeUInt32BE(h, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // truecolour RGB
  const textChunks = Object.entries(text).map(([key, value]) => textChunk(key, value))
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    ...textChunks,
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ])
}

/** Width and height from a PNG's IHDR, or undefined for anything that is not a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !PNG_SIGNATURE.equals(Buffer.from(bytes.subarray(0, 8))))
    return undefined
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { width: view.readUInt32BE(16), height: view.readUInt32BE(20) }
}
