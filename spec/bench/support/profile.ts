import { Session } from 'node:inspector/promises'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string }
  readonly children?: readonly number[]
}

/** Shares of CPU time: by bucket (module), and the hottest functions. */
export interface CpuShares {
  /** [bucket, share of the counted time], largest first. */
  readonly buckets: [string, number][]
  /** [function — file, share of the counted time], the 14 largest. */
  readonly functions: [string, number][]
  /** Garbage collection, as a share of all non-idle samples. */
  readonly gcShare: number
}

/**
 * Profiles `run` with the inspector (100 µs sampling) and shares its self time out by
 * `bucketOf(functionName, url)`. With `entry`, only samples under a function of that name
 * count; without, every sample that is not idle.
 */
export async function cpuProfile(
  run: () => void | Promise<void>,
  options: { entry?: string; bucketOf: (functionName: string, url: string) => string },
): Promise<CpuShares> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
  await run()
  const { profile } = (await session.post('Profiler.stop')) as unknown as {
    profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }
  }
  await session.post('Profiler.disable')
  session.disconnect()

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const selfTime = new Map<number, number>()
  profile.samples.forEach((id, i) =>
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  )
  const isUnder = (
    id: number,
    frame: (callFrame: ProfileNode['callFrame']) => boolean,
  ): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (frame(nodes.get(at)!.callFrame)) return true
    }
    return false
  }
  const { entry } = options
  let counted = 0
  let busy = 0
  let gc = 0
  const buckets = new Map<string, number>()
  const functions = new Map<string, number>()
  for (const [id, time] of selfTime) {
    const { functionName, url } = nodes.get(id)!.callFrame
    // Idle time, and the profiler's own work when it stops, are not the benchmark's.
    if (functionName === '(idle)' || isUnder(id, (f) => f.url.startsWith('node:inspector')))
      continue
    busy += time
    if (functionName === '(garbage collector)') gc += time
    if (entry !== undefined && !isUnder(id, (f) => f.functionName === entry)) continue
    counted += time
    const bucket = options.bucketOf(functionName, url)
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + time)
    const file = url
      .replace(/^.*\/node_modules\//, '')
      .replace(/^.*\/(src|spec)\//, '$1/')
      .replace(/\?.*$/, '')
    const name = `${functionName || '(anonymous)'}${file === '' ? '' : ` — ${file}`}`
    functions.set(name, (functions.get(name) ?? 0) + time)
  }
  const shares = (map: Map<string, number>): [string, number][] =>
    [...map].map(([k, v]): [string, number] => [k, v / counted]).sort((a, b) => b[1] - a[1])
  return {
    buckets: shares(buckets),
    functions: shares(functions).slice(0, 14),
    gcShare: gc / busy,
  }
}
