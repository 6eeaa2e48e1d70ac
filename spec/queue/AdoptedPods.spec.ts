import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { filter, lastValueFrom, map, tap } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComfyPod } from '../../src/pod/ComfyPod.js'
import { AdoptedPods } from '../../src/queue/AdoptedPods.js'
import { adoptionKey } from '../../src/queue/queueKeys.js'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import { startRedisServer, type RedisServer } from '../store/redisServer.js'
import { disconnected, txt2imgWith } from '../store/storeTestKit.js'
import { Opened } from './queueTestKit.js'

// Two workers taking over the prompts one dead worker left on one pod, with a real Redis and the
// simulator over real sockets: a pod keeps one socket per clientId, so one of them follows live.

const NAMES = { prefix: 'bull', name: 'comfyui-rx' }

let redis: RedisServer
let simulator: ComfySimulator
let commands: Redis
const opened = new Opened()

beforeEach(async () => {
  redis = opened.add(await startRedisServer())
  simulator = opened.add(await startComfySimulator({ stepDurationMs: 5, previews: false }))
  commands = new Redis(redis.url)
  opened.add({ close: () => commands.quit() })
})

afterEach(() => opened.closeAll())

/** A worker's adoptions, over a pod of its own. */
function worker(): AdoptedPods {
  const pod = opened.add(new ComfyPod(simulator.url))
  const adopted = new AdoptedPods({
    pods: [{ url: simulator.url, pod }],
    podOptions: {},
    redis: commands,
    names: NAMES,
    leaseMs: 10_000,
  })
  opened.add(adopted)
  return adopted
}

describe('AdoptedPods', () => {
  it("lets one worker follow a dead worker's prompts live, the others over REST", async () => {
    const clientId = randomUUID()
    const dead = new ComfyPod(simulator.url, { clientId })
    simulator.pause()
    const prompts = [randomUUID(), randomUUID()]
    for (const promptId of prompts) await dead.queueWorkflow(txt2imgWith(4), { promptId })
    dead.close()
    await disconnected(simulator, clientId)
    const connections: string[] = []
    simulator.on('connection', (sid) => connections.push(sid))
    const podUrl = dead.url
    const [a, b] = [worker(), worker()]

    const followed = prompts.map(() => {
      let resolve!: () => void
      const promise = new Promise<void>((done) => (resolve = done))
      return { promise, resolve }
    })
    const methods = prompts.map((promptId, index) =>
      lastValueFrom(
        (index === 0 ? a : b).track$({ promptId, podUrl, clientId }, {}).pipe(
          tap((event) => {
            if (event.type === 'queued') followed[index]!.resolve()
          }),
          filter((event) => event.type === 'completed'),
          map((event) => event.result.method),
        ),
      ),
    )
    // Both found their prompt waiting on the pod before it runs.
    await Promise.all(followed.map(({ promise }) => promise))
    simulator.resume()

    expect(await Promise.all(methods)).toEqual(['websocket', 'rest_polling'])
    expect(connections.filter((sid) => sid === clientId)).toHaveLength(1)
    // Released once its prompt ended: the socket closed, the lease gone.
    await disconnected(simulator, clientId)
    expect(await commands.get(adoptionKey(NAMES, podUrl, clientId))).toBeNull()
  })
})
