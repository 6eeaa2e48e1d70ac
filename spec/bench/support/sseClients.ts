import { Agent, get, type ClientRequest } from 'node:http'
import { parentChannel } from './measure.js'

// A child process: `count` concurrent SSE clients of `url` (argv), opened in batches. Counts the
// events they receive. ← {type: 'connected', clients}; → {type: 'count'} ← {type: 'count', events}.

const url = process.argv[2]!
const count = Number(process.argv[3] ?? 1)
const BATCH = 250

const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
const requests: ClientRequest[] = []
let events = 0

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        for (let at = chunk.indexOf('\nevent: '); at >= 0; at = chunk.indexOf('\nevent: ', at + 1))
          events++
      })
      resolve()
    })
    request.on('error', reject)
    requests.push(request)
  })
}

const parent = parentChannel((message) => {
  if (message.type === 'count') parent.send({ type: 'count', events })
})
for (let opened = 0; opened < count; opened += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - opened) }, open))
}
parent.send({ type: 'connected', clients: requests.length })
process.on('disconnect', () => {
  for (const request of requests) request.destroy()
})
