import { bench, describe } from 'vitest'
import { decodeFrame } from '../../src/index.js'
import { FRAMES, podWithJobs } from './harness.js'

// Each task handles the same recorded frames once; the ratio to "JSON.parse" is the cost of the
// library per message relative to parsing it (issue 7: target <= 2x).
const setups = await Promise.all(
  [1, 100, 1_000, 10_000].map(async (jobs) => ({ jobs, ...(await podWithJobs(jobs)) })),
)

describe('cost per WebSocket message', () => {
  bench('JSON.parse (baseline)', () => {
    for (const frame of FRAMES) JSON.parse(frame)
  })

  bench('decodeFrame', () => {
    for (const frame of FRAMES) decodeFrame(frame)
  })

  for (const { jobs, socket } of setups) {
    bench(`decode + route + reduce + throttle, ${jobs} job(s) listening`, () => {
      for (const frame of FRAMES) socket.receive(frame)
    })
  }
})
