import { startComfySimulator, type ComfySimulator } from '../../../src/simulator/index.js'
import { parentChannel } from './measure.js'

// A child process running simulated pods, so that their CPU and heap are not the client's.
// argv: count, then the simulator options as JSON. Sends {type: 'ready', urls}; on
// {type: 'stats'} answers {type: 'stats', finished, openSockets}; exits when the parent goes.

const count = Number(process.argv[2] ?? 1)
const options = JSON.parse(process.argv[3] ?? '{}') as Parameters<typeof startComfySimulator>[0]

const simulators: ComfySimulator[] = []
let finished = 0
const parent = parentChannel((message) => {
  if (message.type === 'stats') {
    parent.send({
      type: 'stats',
      finished,
      openSockets: simulators.reduce((sum, s) => sum + s.openSockets, 0),
    })
  }
})
for (let i = 0; i < count; i++) {
  const simulator = await startComfySimulator(options)
  simulator.on('promptFinished', () => finished++)
  simulators.push(simulator)
}
parent.send({ type: 'ready', urls: simulators.map((s) => s.url) })
