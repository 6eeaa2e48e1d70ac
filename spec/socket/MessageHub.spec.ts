import type { Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import {
  ComfyAuthError,
  ComfyConnectionError,
  type ConnectionState,
  type PodMessage,
} from '../../src/index.js'
import type { PodListener } from '../../src/socket/PodListener.js'
import { MessageHub } from '../../src/socket/MessageHub.js'
import { msg } from '../support/messages.js'

const open: ConnectionState = { state: 'open', connectTimeMs: 1 }
const failed: ConnectionState = { state: 'failed', reason: 'refused', code: 'refused' }
const lostSocket = new ComfyConnectionError('lost', 'ws://pod/ws', 'refused')

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

/** A listener that records what it hears, as `<time> <what>`. */
function listener(scheduler: TestScheduler, heard: string[], name = ''): PodListener {
  const at = (what: string) => void heard.push(`${scheduler.now()} ${name}${what}`)
  return {
    message: (message) => at(message.type),
    connection: (state) => at(state.state),
    lost: (error) => at(`lost ${(error as Error).name}`),
    queueShrank: () => at('queueShrank'),
  }
}

function hub(
  scheduler: TestScheduler,
  messages$: Observable<PodMessage>,
  connection$: Observable<ConnectionState>,
): MessageHub {
  return new MessageHub({
    messages$,
    connection$,
    scheduler,
    retryMs: 10,
    graceMs: 1000,
    closedError: () => new ComfyConnectionError('closed', 'ws://pod/ws', 'pod_closed'),
  })
}

describe('MessageHub', () => {
  it('subscribes the pod once for every listener and routes each message to its prompt', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectSubscriptions }) => {
      const messages$ = hot<PodMessage>('--a-b-', {
        a: msg('execution_start', { prompt_id: 'p1' }),
        b: msg('execution_start', { prompt_id: 'p2' }),
      })
      const states$ = hot<ConnectionState>('o', { o: open })
      const socket = hub(scheduler, messages$, states$)
      const heard: string[] = []
      const one = listener(scheduler, heard, '1:')
      const two = listener(scheduler, heard, '2:')
      socket.route('p1', one)
      socket.attach(one)
      socket.route('p2', two)
      socket.attach(two)
      scheduler.schedule(() => {
        socket.unroute('p1', one)
        socket.detach(one)
      }, 3)
      scheduler.schedule(() => {
        socket.unroute('p2', two)
        socket.detach(two)
      }, 5)
      scheduler.flush()
      expect(heard).toEqual(['0 1:open', '0 2:open', '2 1:execution_start', '4 2:execution_start'])
      expectSubscriptions(messages$.subscriptions).toBe('^----!')
      expectSubscriptions(states$.subscriptions).toBe('^----!')
      expect(socket.routes).toBe(0)
      expect(socket.lastMessageAt()).toBe(4)
    })
  })

  it('tells listeners when the queue got shorter, at most once per 500 ms (leading and trailing)', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const status = (remaining: number) =>
        msg('status', { status: { exec_info: { queue_remaining: remaining } } })
      const messages$ = hot<PodMessage>('a 9ms b 99ms c 99ms d 599ms e 999ms f', {
        a: status(3),
        b: status(2),
        c: status(1),
        d: status(4),
        e: status(3),
        f: status(2),
      })
      const socket = hub(scheduler, messages$, hot<ConnectionState>('o', { o: open }))
      const heard: string[] = []
      const one = listener(scheduler, heard)
      socket.attach(one)
      scheduler.schedule(() => socket.detach(one), 3000)
      scheduler.flush()
      // 3 is the baseline; 2 (10) leads; 1 (110) trails at 510; 4 is longer; 3 (810) trails at
      // 1010; 2 (1810) leads again.
      expect(heard).toEqual([
        '0 open',
        '10 queueShrank',
        '510 queueShrank',
        '1010 queueShrank',
        '1810 queueShrank',
      ])
    })
  })

  it('drops a queue check still due when the last listener leaves', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot }) => {
      const status = (remaining: number) =>
        msg('status', { status: { exec_info: { queue_remaining: remaining } } })
      const messages$ = hot<PodMessage>('a-b-c', { a: status(5), b: status(4), c: status(3) })
      const socket = hub(scheduler, messages$, hot<ConnectionState>('o', { o: open }))
      const heard: string[] = []
      const one = listener(scheduler, heard)
      socket.attach(one)
      scheduler.schedule(() => socket.detach(one), 100)
      scheduler.flush()
      expect(heard).toEqual(['0 open', '2 queueShrank'])
      // No timer of the check was left: the last thing the scheduler ran was the detach.
      expect(scheduler.now()).toBe(100)
    })
  })

  it('tells listeners of a lost socket and tries it again every retryMs while anyone listens', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, hot, expectSubscriptions }) => {
      const messages$ = cold<PodMessage>('--#', undefined, lostSocket)
      const socket = hub(scheduler, messages$, hot<ConnectionState>('f', { f: failed }))
      const heard: string[] = []
      const one = listener(scheduler, heard)
      socket.attach(one)
      scheduler.schedule(() => socket.detach(one), 20)
      scheduler.flush()
      expect(heard).toEqual([
        '0 failed',
        '2 lost ComfyConnectionError',
        '14 lost ComfyConnectionError',
      ])
      expectSubscriptions(messages$.subscriptions).toBe(['^-!', '------------^-!'])
    })
  })

  it('does not try again after an error no retry gets past', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, hot, expectSubscriptions }) => {
      const refused = new ComfyAuthError('ws://pod/ws', 401)
      const messages$ = cold<PodMessage>('-#', undefined, refused)
      const socket = hub(scheduler, messages$, hot<ConnectionState>('-'))
      const heard: string[] = []
      socket.attach(listener(scheduler, heard))
      scheduler.flush()
      expect(heard).toEqual(['1 lost ComfyAuthError'])
      expectSubscriptions(messages$.subscriptions).toBe('^!')
    })
  })

  it('tells listeners waiting for a retry of the pod’s close at once', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, hot, expectSubscriptions }) => {
      const messages$ = cold<PodMessage>('-#', undefined, lostSocket)
      const socket = hub(scheduler, messages$, hot<ConnectionState>('-'))
      const heard: string[] = []
      const recorder = listener(scheduler, heard)
      // Like a job: it ends, and leaves, on an error no retry gets past.
      const job: PodListener = {
        ...recorder,
        lost: (error) => {
          recorder.lost(error)
          if (isClosed(error)) socket.detach(job)
        },
      }
      socket.attach(job)
      scheduler.schedule(() => socket.close(), 5)
      scheduler.flush()
      expect(heard).toEqual(['1 lost ComfyConnectionError', '5 lost ComfyConnectionError'])
      expectSubscriptions(messages$.subscriptions).toBe('^!')
      expect(socket.attached).toBe(0)
    })
  })
})

function isClosed(error: unknown): boolean {
  return error instanceof ComfyConnectionError && error.reason === 'pod_closed'
}
