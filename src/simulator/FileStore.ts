import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { encodePng } from './encodePng.js'
import { PyException, pyFrame } from './python.js'
import type { SimulatedFileRef, SimulatedImage } from './SimulatedNodeType.js'

/** The three folders ComfyUI serves through /view. */
export type FileType = SimulatedFileRef['type']

interface StoredFile {
  /** Bytes of an uploaded file. */
  readonly bytes?: Buffer
  /** A generated image, encoded only when someone asks for it. */
  readonly image?: { readonly width: number; readonly height: number; readonly color: number }
  readonly text?: Readonly<Record<string, string>>
}

// Large enough to look like the real thing, small enough that /view never encodes megabytes.
const MAX_SIDE = 1024

const key = (type: string, subfolder: string, filename: string) =>
  `${type}\u0000${subfolder}\u0000${filename}`

/**
 * The simulator's output, temp and input folders, in memory. Files survive a simulated restart
 * (they are on disk in a real server) except temp, which ComfyUI wipes when it starts.
 */
export class FileStore {
  private readonly files = new Map<string, StoredFile>()

  /** Stores one image per batch item the way SaveImage names them; returns the UI refs. */
  saveImages(
    images: SimulatedImage,
    type: 'output' | 'temp',
    filenamePrefix: string,
    text: Readonly<Record<string, string>> = {},
  ): SimulatedFileRef[] {
    const { subfolder, filename, counter } = this.saveImagePath(
      filenamePrefix,
      type,
      images.width,
      images.height,
    )
    const scale = Math.min(1, MAX_SIDE / Math.max(images.width, images.height, 1))
    const refs: SimulatedFileRef[] = []
    for (let batch = 0; batch < Math.max(1, images.batchSize); batch++) {
      const name = `${filename.replaceAll('%batch_num%', String(batch))}_${String(counter + batch).padStart(5, '0')}_.png`
      this.files.set(key(type, subfolder, name), {
        image: {
          width: Math.max(1, Math.round(images.width * scale)),
          height: Math.max(1, Math.round(images.height * scale)),
          color: images.color,
        },
        text,
      })
      refs.push({ filename: name, subfolder, type })
    }
    return refs
  }

  /** Stores uploaded bytes; returns the name used (renamed on a clash with different content). */
  upload(
    type: FileType,
    subfolder: string,
    filename: string,
    bytes: Buffer,
    overwrite: boolean,
  ): string {
    let name = filename
    if (!overwrite) {
      const ext = posix.extname(filename)
      const stem = filename.slice(0, filename.length - ext.length)
      for (let i = 1; ; i++) {
        const existing = this.files.get(key(type, subfolder, name))
        if (existing === undefined) break
        if (existing.bytes?.equals(bytes)) return name
        name = `${stem} (${i})${ext}`
      }
    }
    this.files.set(key(type, subfolder, name), { bytes })
    return name
  }

  /** The bytes of a stored file, or undefined when there is none. */
  read(type: FileType, subfolder: string, filename: string): Buffer | undefined {
    const file = this.files.get(key(type, subfolder, filename))
    if (file === undefined) return undefined
    if (file.bytes !== undefined) return file.bytes
    const image = file.image ?? { width: 1, height: 1, color: 0 }
    return encodePng(image.width, image.height, image.color, file.text)
  }

  /** Names of the files at the top of a folder, sorted (LoadImage's combo list). */
  list(type: FileType): string[] {
    const prefix = key(type, '', '')
    return [...this.files.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length))
      .sort()
  }

  /** A digest of a stored file's content (LoadImage's IS_CHANGED). */
  digest(type: FileType, subfolder: string, filename: string): string | undefined {
    const bytes = this.read(type, subfolder, filename)
    return bytes && createHash('sha256').update(bytes).digest('hex')
  }

  /** Removes every temp file, as a starting ComfyUI does. */
  wipeTemp(): void {
    for (const k of this.files.keys()) if (k.startsWith('temp\u0000')) this.files.delete(k)
  }

  // folder_paths.get_save_image_path: the subfolder comes from the prefix, the counter is one
  // more than the highest counter already used by that prefix in that folder.
  private saveImagePath(prefix: string, type: string, width: number, height: number) {
    const expanded = prefix
      .replaceAll('%width%', String(width))
      .replaceAll('%height%', String(height))
    const normalized = posix.normalize(expanded)
    const subfolder = posix.dirname(normalized) === '.' ? '' : posix.dirname(normalized)
    const filename = posix.basename(normalized)
    if (posix.isAbsolute(normalized) || subfolder === '..' || subfolder.startsWith('../')) {
      throw new PyException(
        'Exception',
        `**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${subfolder}\n         output_dir: ${type}\n           commonpath: `,
        [pyFrame('ComfyUI/folder_paths.py', 402, 'get_save_image_path', 'raise Exception(err)')],
      )
    }
    const folder = key(type, subfolder, '')
    let highest = 0
    for (const k of this.files.keys()) {
      if (!k.startsWith(folder)) continue
      const name = k.slice(folder.length)
      if (!name.startsWith(`${filename}_`)) continue
      const digits = Number.parseInt(name.slice(filename.length + 1).split('_')[0] ?? '', 10)
      if (Number.isFinite(digits)) highest = Math.max(highest, digits)
    }
    return { subfolder, filename, counter: highest + 1 }
  }
}
