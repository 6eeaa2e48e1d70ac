import { mkdir, writeFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import type { ComfyImage } from '../job/ComfyUIJobResult.js'
import { redactUrl } from '../internal/redactUrl.js'
import { CliError, ExitCode } from './CliError.js'
import { describeError } from '../internal/describeError.js'

/** An output image saved to disk. */
export interface DownloadedImage {
  readonly url: string
  readonly path: string
}

/**
 * Creates the `--out` directory, up front, so that a bad path fails before the prompt is queued.
 *
 * @throws CliError with exit code 2
 */
export async function prepareOutDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
  } catch (cause) {
    throw new CliError(
      `cannot create the --out directory ${dir}: ${cause instanceof Error ? cause.message : String(cause)}`,
      ExitCode.usage,
      { cause },
    )
  }
}

/**
 * Downloads each image from the pod's `/view` into `dir`, one after the other. A file is never
 * overwritten (`name-1.png`, `name-2.png`, … instead), and only the base name of what the pod
 * calls the file is used, so that a pod cannot write outside `dir`.
 *
 * @throws CliError with exit code 1 when a download or a write fails
 */
export async function downloadImages(
  images: readonly ComfyImage[],
  dir: string,
  { fetch, headers }: { readonly fetch: typeof globalThis.fetch; readonly headers: HeadersInit },
): Promise<DownloadedImage[]> {
  const downloaded: DownloadedImage[] = []
  for (const image of images) {
    const shown = redactUrl(image.url)
    let bytes: Uint8Array
    try {
      const response = await fetch(image.url, { headers })
      if (!response.ok) {
        throw new CliError(
          `downloading ${shown} failed: the pod answered ${response.status}`,
          ExitCode.failed,
        )
      }
      bytes = new Uint8Array(await response.arrayBuffer())
    } catch (cause) {
      if (cause instanceof CliError) throw cause
      throw new CliError(`downloading ${shown} failed: ${describeError(cause)}`, ExitCode.failed, {
        cause,
      })
    }
    downloaded.push({ url: image.url, path: await writeNew(dir, image.filename, bytes) })
  }
  return downloaded
}

async function writeNew(dir: string, filename: string, bytes: Uint8Array): Promise<string> {
  const name = basename(filename.replaceAll('\\', '/'))
  const safe = name === '' || name === '.' || name === '..' ? 'image.png' : name
  const ext = extname(safe)
  const stem = safe.slice(0, safe.length - ext.length)
  for (let n = 0; ; n++) {
    const path = join(dir, n === 0 ? safe : `${stem}-${n}${ext}`)
    try {
      await writeFile(path, bytes, { flag: 'wx' })
      return path
    } catch (cause) {
      if ((cause as { code?: unknown }).code === 'EEXIST') continue
      throw new CliError(`cannot write ${path}: ${describeError(cause)}`, ExitCode.failed, {
        cause,
      })
    }
  }
}
