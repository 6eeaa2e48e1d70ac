import type { Workflow } from '../../src/index.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import type { ProgressUpdate } from '../../src/progress/ProgressUpdate.js'
import { readBlocks, type StreamBlock } from '../sse/sseClient.js'
import txt2img from '../../examples/workflows/txt2img.json' with { type: 'json' }

/** txt2img with `steps` sampler steps and a random seed (the simulator caches unchanged nodes). */
export function txt2imgWith(steps: number): Workflow {
  const workflow = txt2img as Workflow
  const sampler = workflow['3']!
  return {
    ...workflow,
    '3': {
      ...sampler,
      inputs: { ...sampler.inputs, steps, seed: Math.floor(Math.random() * 2 ** 48) },
    },
  }
}

/** A point of a job where the simulator's sampler waits until the test lets it go on. */
export interface Gate {
  /** Resolves when the sampler reached the gate (the steps before it were reported). */
  readonly reached: Promise<void>
  open(): void
}

/** A simulator whose sampler can be held before a given step, for "mid-job" without timing. */
export interface GatedSimulator {
  readonly simulator: ComfySimulator
  /** Holds the sampler of the next prompt before it reports `step`. */
  gate(step: number): Gate
  /** Opens every gate, then closes the simulator. */
  close(): Promise<void>
}

export async function startGatedSimulator(stepDurationMs = 5): Promise<GatedSimulator> {
  /** What the sampler awaits before a step: tells the test it got there, waits to be let go. */
  const waits = new Map<number, () => Promise<void>>()
  const simulator = await startComfySimulator({
    previews: false,
    nodeDurationMs: 1,
    nodeTypes: {
      // The built-in KSampler, reporting its steps itself so that it can wait at a gate.
      KSampler: {
        steps: 0,
        durationMs: 1,
        execute: async (context) => {
          const steps = Number(context.inputs['steps'])
          for (let step = 1; step <= steps; step++) {
            const wait = waits.get(step)
            if (wait !== undefined) {
              waits.delete(step)
              await wait()
            }
            await context.sleep(stepDurationMs)
            context.progress(step, steps)
          }
          return { outputs: [{ type: 'LATENT', width: 512, height: 512, batchSize: 1 }] }
        },
      },
    },
  })
  const opened: (() => void)[] = []
  return {
    simulator,
    gate(step) {
      let reach!: () => void
      let release!: () => void
      const reached = new Promise<void>((resolve) => (reach = resolve))
      const released = new Promise<void>((resolve) => (release = resolve))
      opened.push(release)
      waits.set(step, () => {
        reach()
        return released
      })
      return { reached, open: release }
    },
    async close() {
      for (const release of opened) release()
      await simulator.close()
    },
  }
}

/** Reads an event stream's updates as they arrive, a few at a time. */
export class UpdateReader {
  /** Every update read so far. */
  readonly updates: ProgressUpdate[] = []
  private readonly blocks: AsyncGenerator<StreamBlock>

  constructor(body: ReadableStream<Uint8Array>) {
    this.blocks = readBlocks(body)
  }

  /** Reads until an update matches, and returns it. */
  async until(predicate: (update: ProgressUpdate) => boolean): Promise<ProgressUpdate> {
    for (;;) {
      const { done, value } = await this.blocks.next()
      if (done) throw new Error(`the stream ended after ${JSON.stringify(this.updates)}`)
      if (value.data === undefined) continue
      const update = JSON.parse(value.data) as ProgressUpdate
      this.updates.push(update)
      if (predicate(update)) return update
    }
  }

  /** Reads to the end of the stream. */
  async rest(): Promise<ProgressUpdate[]> {
    for await (const block of this.blocks) {
      if (block.data !== undefined) this.updates.push(JSON.parse(block.data) as ProgressUpdate)
    }
    return this.updates
  }
}

/**
 * Resolves once no socket of the simulator is registered under `clientId`: a restarted instance
 * must connect after the old one's socket is gone, or the late close of the old socket
 * de-registers the new one (ComfyUI pops the sid, protocol §1.2; the job then goes on only after
 * its stall watchdog reopens the socket).
 */
export function disconnected(simulator: ComfySimulator, clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (simulator.clientIds.includes(clientId)) return
      simulator.off('disconnection', check)
      resolve()
    }
    simulator.on('disconnection', check)
    check()
  })
}

/** Resolves once the simulator has `count` sockets registered. */
export function registered(simulator: ComfySimulator, count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (simulator.clientIds.length !== count) return
      simulator.off('disconnection', check)
      resolve()
    }
    simulator.on('disconnection', check)
    check()
  })
}

/** Whether values never go down. */
export function isMonotonic(values: readonly number[]): boolean {
  return values.every((value, i) => i === 0 || value >= values[i - 1]!)
}
