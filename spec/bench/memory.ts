import { randomUUID } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import { filter, firstValueFrom, Subject, type Subscription } from 'rxjs'
import { WebSocket } from 'ws'
import { ComfyPod, type JobEvent } from '../../src/index.js'
import { fakeSockets } from '../support/FakeWebSocket.js'
import { WORKFLOW } from './harness.js'
import {
  against,
  Child,
  type Figure,
  runIfMain,
  type Section,
  settledHeap,
  tick,
} from './support/measure.js'

// Issue 7, measurement 3: heap per idle tracked job (10,000 jobs on one pod) and per pod
// connection (100 pods, real sockets to simulators in a child process). Run with
// `node --expose-gc`. Baselines, measured in the same process just before: for a job, the least
// a reactive tracker holds (a Subject with one subscriber in a Map, by a UUID prompt id); for a
// pod, a bare `ws` client connected to the same simulators.

const JOBS = Number(process.env['BENCH_MEMORY_JOBS'] ?? 10_000)
const PODS = Number(process.env['BENCH_MEMORY_PODS'] ?? 100)
const SIMULATORS = 10
const BREAKDOWN_JOBS = 500
const JOB_TARGET_BYTES = 2 * 1024
const POD_TARGET_BYTES = 100 * 1024

/**
 * A pod over a hand-driven socket whose REST answers at once: every job stays queued. `listed`
 * are the prompts `GET /queue` lists as pending, with their graph (tracked prompts learn it
 * there).
 */
function podOverFakeSocket(listed: ReadonlySet<string>): {
  pod: ComfyPod
  requests: () => number
} {
  const { factory, sockets } = fakeSockets()
  let requests = 0
  const fetch: typeof globalThis.fetch = async (input, init) => {
    requests++
    const url = String(input)
    if (init?.method === 'POST' && url.endsWith('/prompt')) {
      const { prompt_id } = JSON.parse(String(init.body)) as { prompt_id: string }
      return Response.json({ prompt_id, number: requests, node_errors: {} })
    }
    if (url.endsWith('/queue')) {
      const pending = [...listed].map((id, number) => [number, id, WORKFLOW])
      return Response.json({ queue_running: [], queue_pending: pending })
    }
    return Response.json({})
  }
  const pod = new ComfyPod('http://bench.invalid', { webSocketFactory: factory, fetch })
  // The socket opens as soon as the first job subscribes.
  const opener = pod.messages$.subscribe()
  sockets[0]!.open()
  opener.unsubscribe()
  return { pod, requests: () => requests }
}

/** Resolves once the pod has sent no request for a while: every job has had its answers. */
async function quiet(requests: () => number): Promise<void> {
  for (let calm = 0, seen = -1; calm < 3; await tick(20)) {
    calm = requests() === seen ? calm + 1 : 0
    seen = requests()
  }
}

/** Heap per job of `count` jobs that have been posted and wait for their first message. */
async function heapPerJob(
  count: number,
  start: (pod: ComfyPod, listed: Set<string>) => Subscription,
): Promise<{ perJob: number; residualPerJob: number }> {
  const listed = new Set<string>()
  const { pod, requests } = podOverFakeSocket(listed)
  const job = (): Subscription => start(pod, listed)
  // Warm up: code compiled, lazy structures built, before the first reading.
  const warm = Array.from({ length: 200 }, job)
  await quiet(requests)
  for (const subscription of warm) subscription.unsubscribe()
  listed.clear()
  const before = await settledHeap()
  const subscriptions = Array.from({ length: count }, job)
  await quiet(requests)
  const during = await settledHeap()
  const ended = subscriptions.filter((subscription) => subscription.closed).length
  if (ended > 0) throw new Error(`${ended} of the idle jobs ended`)
  for (const subscription of subscriptions) subscription.unsubscribe()
  subscriptions.length = 0
  listed.clear()
  const after = await settledHeap()
  pod.close()
  return { perJob: (during - before) / count, residualPerJob: (after - before) / count }
}

interface HeapCount {
  count: number
  bytes: number
}

/** Live objects by kind (`type: constructor or function name`), from a heap snapshot. */
function liveObjects(): Map<string, HeapCount> {
  const path = writeHeapSnapshot(join(tmpdir(), `comfyui-rx-bench-${process.pid}.heapsnapshot`))
  try {
    const snapshot = JSON.parse(readFileSync(path, 'utf8')) as {
      snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
      nodes: number[]
      strings: string[]
    }
    const fields = snapshot.snapshot.meta.node_fields
    const types = snapshot.snapshot.meta.node_types[0]
    const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f))
    const kinds = new Map<string, HeapCount>()
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      const kind = types[snapshot.nodes[i + type!]!]!
      // Code V8 compiles while the jobs start is not held by them.
      if (kind === 'code') continue
      const label = ['string', 'concatenated string', 'sliced string', 'hidden'].includes(kind)
        ? kind
        : `${kind}: ${snapshot.strings[snapshot.nodes[i + name!]!]!.slice(0, 40) || '(anonymous)'}`
      const entry = kinds.get(label) ?? { count: 0, bytes: 0 }
      entry.count++
      entry.bytes += snapshot.nodes[i + size!]!
      kinds.set(label, entry)
    }
    return kinds
  } finally {
    rmSync(path, { force: true })
  }
}

/** What `count` idle executeWorkflow$ jobs hold, per job, by kind of object (largest first). */
async function heapBreakdown(
  count: number,
): Promise<{ kind: string; count: number; bytes: number }[]> {
  const { pod, requests } = podOverFakeSocket(new Set())
  const start = (): Subscription => pod.executeWorkflow$(WORKFLOW).subscribe()
  const warm = Array.from({ length: 100 }, start)
  await quiet(requests)
  for (const subscription of warm) subscription.unsubscribe()
  await settledHeap()
  // Taking a snapshot leaves strings of its own behind: what one more snapshot adds with no job
  // started in between is that noise, taken off the jobs' figures.
  const first = liveObjects()
  await settledHeap()
  const before = liveObjects()
  const subscriptions = Array.from({ length: count }, start)
  await quiet(requests)
  await settledHeap()
  const after = liveObjects()
  for (const subscription of subscriptions) subscription.unsubscribe()
  pod.close()
  const grown = (
    kind: string,
    field: keyof HeapCount,
    from: Map<string, HeapCount>,
    to: Map<string, HeapCount>,
  ) => (to.get(kind)?.[field] ?? 0) - (from.get(kind)?.[field] ?? 0)
  return [...after.keys()]
    .map((kind) => ({
      kind,
      count: (grown(kind, 'count', before, after) - grown(kind, 'count', first, before)) / count,
      bytes: (grown(kind, 'bytes', before, after) - grown(kind, 'bytes', first, before)) / count,
    }))
    .sort((a, b) => b.bytes - a.bytes)
}

/** The least a reactive tracker of `count` prompts holds: a Subject with a subscriber, by id. */
async function heapPerBareJob(count: number): Promise<number> {
  const before = await settledHeap()
  const routes = new Map<string, Subject<unknown>>()
  const subscriptions: Subscription[] = []
  for (let i = 0; i < count; i++) {
    const subject = new Subject<unknown>()
    subscriptions.push(subject.subscribe(() => undefined))
    routes.set(randomUUID(), subject)
  }
  const during = await settledHeap()
  for (const subscription of subscriptions) subscription.unsubscribe()
  routes.clear()
  return (during - before) / count
}

/**
 * Heap per open connection of `count` clients made by `open`; each reading starts once every
 * socket of the step before is closed on the simulators' side too.
 */
async function heapPerConnection<T>(
  count: number,
  open: (index: number) => Promise<T>,
  close: (client: T) => void,
  allClosed: () => Promise<void>,
): Promise<number> {
  await allClosed()
  const before = await settledHeap()
  const clients = await Promise.all(Array.from({ length: count }, (_, i) => open(i)))
  await tick(50)
  const during = await settledHeap()
  for (const client of clients) close(client)
  await allClosed()
  return (during - before) / count
}

function bareSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?clientId=${randomUUID()}`)
  socket.on('message', (data, isBinary) => {
    if (!isBinary) JSON.parse(String(data))
  })
  // Open, and the server's first frame (status) read, as for a pod.
  return new Promise((resolve, reject) => {
    socket.once('message', () => resolve(socket))
    socket.once('error', reject)
  })
}

async function openPod(url: string): Promise<{ pod: ComfyPod; subscription: Subscription }> {
  const pod = new ComfyPod(url)
  const subscription = pod.messages$.subscribe()
  await firstValueFrom(pod.messages$.pipe(filter((message) => message.type === 'status')))
  return { pod, subscription }
}

export async function memory(): Promise<Section> {
  const executeJob = (pod: ComfyPod): Subscription =>
    pod.executeWorkflow$(WORKFLOW).subscribe({ next: (_: JobEvent) => undefined })
  const trackJob = (pod: ComfyPod, listed: Set<string>): Subscription => {
    const promptId = randomUUID()
    listed.add(promptId)
    return pod.track$(promptId).subscribe({ error: () => undefined })
  }

  const bareJob = await heapPerBareJob(JOBS)
  const executed = await heapPerJob(JOBS, executeJob)
  const tracked = await heapPerJob(JOBS, trackJob)
  const breakdown = await heapBreakdown(BREAKDOWN_JOBS)

  const simulators = new Child('support/simulators.ts', [String(SIMULATORS), '{}'])
  let perBareSocket: number
  let perPod: number
  try {
    const { urls } = await simulators.next<{ type: 'ready'; urls: string[] }>('ready')
    const urlOf = (i: number) => urls[i % urls.length]!
    const allClosed = async (): Promise<void> => {
      for (let open = Infinity; open > 0; await tick(20)) {
        ;({ openSockets: open } = await simulators.ask<{ type: 'stats'; openSockets: number }>(
          { type: 'stats' },
          'stats',
        ))
      }
      await tick(20)
    }
    // Warm up both kinds of client.
    for (const socket of await Promise.all(urls.map(bareSocket))) socket.close()
    for (const { pod } of await Promise.all(urls.map(openPod))) pod.close()
    perBareSocket = await heapPerConnection(
      PODS,
      (i) => bareSocket(urlOf(i)),
      (socket) => socket.close(),
      allClosed,
    )
    perPod = await heapPerConnection(
      PODS,
      (i) => openPod(urlOf(i)),
      ({ pod }) => pod.close(),
      allClosed,
    )
  } finally {
    await simulators.stop()
  }

  const jobBaseline = {
    label: 'bare Subject + subscriber in a Map by UUID',
    value: bareJob,
  }
  const figures: Figure[] = [
    against('heap per idle job, executeWorkflow$', executed.perJob, 'B', jobBaseline, {
      text: '≤ 2 KB',
      pass: executed.perJob <= JOB_TARGET_BYTES,
    }),
    against('heap per idle job, track$', tracked.perJob, 'B', jobBaseline, {
      text: '≤ 2 KB',
      pass: tracked.perJob <= JOB_TARGET_BYTES,
    }),
    against(
      'heap per pod connection',
      perPod,
      'B',
      { label: 'bare ws client on the same pods', value: perBareSocket },
      { text: '≤ 100 KB', pass: perPod <= POD_TARGET_BYTES },
    ),
  ]
  return {
    id: 'memory',
    title: `3. Memory: ${JOBS.toLocaleString('en')} idle jobs on one pod, ${PODS} pod connections`,
    method:
      `Heap in use after full GCs (node --expose-gc), divided by the count. Jobs: ${JOBS} jobs ` +
      'with default options on one ComfyPod over an in-process socket, each posted and waiting ' +
      `for its first message (timers, routes, REST answers in place). Pods: ${PODS} ComfyPods ` +
      `with messages$ subscribed, over real sockets to ${SIMULATORS} simulators in a child ` +
      'process, each past its first status frame.',
    figures,
    markdown: [
      `**What an idle executeWorkflow$ job holds** (heap snapshots before and after ` +
        `${BREAKDOWN_JOBS} jobs, per job, largest first):`,
      '',
      '| kind of object | objects per job | bytes per job |',
      '| --- | ---: | ---: |',
      ...breakdown
        .slice(0, 12)
        .map((row) => `| ${row.kind} | ${row.count.toFixed(1)} | ${row.bytes.toFixed(0)} |`),
      `| total | ${breakdown.reduce((sum, row) => sum + row.count, 0).toFixed(0)} | ` +
        `${breakdown.reduce((sum, row) => sum + row.bytes, 0).toFixed(0)} |`,
    ].join('\n'),
    notes: [
      `After unsubscribing every job: ${executed.residualPerJob.toFixed(0)} B per ` +
        `executeWorkflow$ job and ${tracked.residualPerJob.toFixed(0)} B per track$ job remain ` +
        '(≈ 0 means no leak).',
      'The workflow object is shared by all jobs (one template); a job holds its own copy only ' +
        'if the caller makes one.',
    ],
  }
}

runIfMain(import.meta.url, memory)
