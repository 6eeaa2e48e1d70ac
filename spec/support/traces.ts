import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** One line of a recorded ComfyUI 0.3.64 trace (spec/fixtures/comfyui-0.3.64/README.md). */
export type TraceEntry =
  | { t: number; dir: 'ws-in'; frame: 'text'; type: string; msg: { type: string; data: unknown } }
  | { t: number; dir: 'ws-in'; frame: 'binary'; b64: string }
  | {
      t: number
      dir: 'http'
      method: string
      path: string
      req: unknown
      status: number
      resp: unknown
      phase?: string
      label?: string
    }
  | { t: number; dir: 'note' | 'ws-event' | 'ws-out'; text?: string; phase?: string }

export const TRACE_NAMES = [
  'simple-success',
  'progress',
  'cached',
  'execution-error',
  'validation-error',
] as const

/** Reads a recorded trace. */
/** The name of a recorded trace. */
export type TraceName = (typeof TRACE_NAMES)[number]

export function readTrace(name: TraceName): TraceEntry[] {
  const path = fileURLToPath(new URL(`../fixtures/comfyui-0.3.64/${name}.jsonl`, import.meta.url))
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TraceEntry)
}

/** The raw text of every text frame the server sent, as it came off the wire. */
export function textFrames(trace: TraceEntry[]): { type: string; raw: string; phase?: string }[] {
  return trace.flatMap((entry) =>
    entry.dir === 'ws-in' && entry.frame === 'text'
      ? [{ type: entry.type, raw: JSON.stringify(entry.msg), ...phaseOf(entry) }]
      : [],
  )
}

function phaseOf(entry: TraceEntry): { phase?: string } {
  return 'phase' in entry && typeof entry.phase === 'string' ? { phase: entry.phase } : {}
}
