import { bench, describe } from 'vitest'
import { decodeFrame } from '../../src/index.js'
import {
  BENCH_OPTIONS,
  FRAMES,
  podWithJobs,
  podWithoutJobs,
  reducerOverMessages,
} from './harness.js'

// Issue 7, measurement 1. Each task handles the same recorded frames (37 frames of a running
// ComfyUI 0.3.64 prompt, re-addressed to one prompt) once; its time divided by the time of
// "JSON.parse" is the cost of the library per message relative to parsing it (target <= 2x).
// The stages in between say where the cost comes from. writeReport.ts turns the medians into
// BENCHMARKS.md.

const options = BENCH_OPTIONS
const throttled = await podWithJobs(1)
const unthrottled = await podWithJobs(1, () => undefined, {
  progressThrottleMs: 0,
  stallTimeoutMs: 3_600_000,
})
const bare = podWithoutJobs()
const reduce = reducerOverMessages()

describe('cost per WebSocket message', () => {
  bench(
    'JSON.parse (baseline)',
    () => {
      for (const frame of FRAMES) JSON.parse(frame)
    },
    options,
  )

  bench(
    'decodeFrame',
    () => {
      for (const frame of FRAMES) decodeFrame(frame)
    },
    options,
  )

  bench(
    'decode + socket pipeline (messages$, no job)',
    () => {
      for (const frame of FRAMES) bare.socket.receive(frame)
    },
    options,
  )

  bench('reduceJob alone (decoded messages)', reduce, options)

  bench(
    'decode + route + reduce + throttle, 1 job',
    () => {
      for (const frame of FRAMES) throttled.socket.receive(frame)
    },
    options,
  )

  bench(
    'decode + route + reduce, 1 job, unthrottled (progressThrottleMs 0)',
    () => {
      for (const frame of FRAMES) unthrottled.socket.receive(frame)
    },
    options,
  )
})
