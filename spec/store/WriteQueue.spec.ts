import { describe, expect, it } from 'vitest'
import type { ProgressStoreDiagnostic } from '../../src/store/ProgressStore.js'
import { WriteQueue } from '../../src/store/WriteQueue.js'

/** A queue whose writes the test settles by hand, on a connection it turns on and off. */
function harness(maxWaiting = 10) {
  const connection = { ready: true, lost: false }
  const diagnostics: ProgressStoreDiagnostic[] = []
  const started: { key: string; value: string; settle(error?: Error): void }[] = []
  const queue = new WriteQueue({
    maxWaiting,
    isReady: () => connection.ready,
    isLost: () => connection.lost,
    isConnectionError: (error) => !(error instanceof Error && error.name === 'ReplyError'),
    report: (diagnostic) => diagnostics.push(diagnostic),
  })
  const write = (key: string, value: string) =>
    queue.enqueue({
      key,
      promptId: key,
      run: () =>
        new Promise<void>((resolve, reject) => {
          started.push({ key, value, settle: (error) => (error ? reject(error) : resolve()) })
        }),
    })
  return { queue, connection, diagnostics, started, write }
}

const replyError = Object.assign(new Error('WRONGTYPE'), { name: 'ReplyError' })
const flushed = () => new Promise((resolve) => setImmediate(resolve))

describe('WriteQueue', () => {
  it('runs one write per key at a time, and only the latest one waiting behind it', async () => {
    const { started, write } = harness()
    const first = write('p1', 'a')
    const superseded = write('p1', 'b')
    const latest = write('p1', 'c')
    void write('p2', 'a')
    expect(started.map((w) => `${w.key}=${w.value}`)).toEqual(['p1=a', 'p2=a'])
    started[0]!.settle()
    await first
    await flushed()
    expect(started.map((w) => `${w.key}=${w.value}`)).toEqual(['p1=a', 'p2=a', 'p1=c'])
    started[2]!.settle()
    await Promise.all([superseded, latest])
  })

  it('keeps a write that failed for want of a connection, and holds every write until resume', async () => {
    const { queue, connection, diagnostics, started, write } = harness()
    const failing = write('p1', 'a')
    connection.ready = false
    connection.lost = true
    started[0]!.settle(new Error("Stream isn't writeable"))
    await failing
    connection.ready = true
    await write('p2', 'a')
    expect(started).toHaveLength(1)
    expect(diagnostics.map((d) => d.type)).toEqual(['write_failed', 'write_failed'])
    expect(diagnostics[0]).toMatchObject({ key: 'p1', kept: true })

    queue.resume()

    expect(started.map((w) => `${w.key}=${w.value}`)).toEqual(['p1=a', 'p1=a', 'p2=a'])
  })

  it('drops a write Redis refused, with a diagnostic', async () => {
    const { diagnostics, started, write } = harness()
    const refused = write('p1', 'a')
    started[0]!.settle(replyError)
    await refused
    await flushed()
    expect(started).toHaveLength(1)
    expect(diagnostics).toEqual([
      { type: 'write_failed', key: 'p1', promptId: 'p1', kept: false, message: 'WRONGTYPE' },
    ])
  })

  it('keeps at most maxWaiting keys while down, dropping the oldest', async () => {
    const { connection, diagnostics, started, write } = harness(2)
    connection.ready = false
    await Promise.all([write('p1', 'a'), write('p2', 'a'), write('p1', 'b'), write('p3', 'a')])
    expect(started).toEqual([])
    // Not connected yet (never lost): the writes wait without a word, but the one dropped.
    expect(diagnostics).toEqual([{ type: 'update_dropped', key: 'p2', promptId: 'p2' }])
  })

  it('drains what runs and drops what waits when closing', async () => {
    const { queue, connection, diagnostics, started, write } = harness()
    void write('p1', 'a')
    connection.ready = false
    void write('p2', 'a')
    const drained = queue.drain()
    started[0]!.settle()
    await drained
    expect(started.map((w) => w.key)).toEqual(['p1'])
    expect(diagnostics).toEqual([{ type: 'update_dropped', key: 'p2', promptId: 'p2' }])
    expect(queue.isWaiting).toBe(false)
  })
})
