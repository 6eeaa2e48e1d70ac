import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A real redis-server, started by the test on a free port, with or without persistence. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:port`. */
  readonly url: string
  /** Kills the server (SIGKILL: like a crash; a persistent one keeps every write it answered). */
  kill(): Promise<void>
  /**
   * Starts it again on the same port: empty, or, when persistent, with the data it had (its
   * append-only file); resolves once it answers PING.
   */
  start(): Promise<void>
  /** Kills it for good (and deletes the files of a persistent one). */
  close(): Promise<void>
}

/** Options of `startRedisServer`. */
export interface RedisServerOptions {
  /**
   * Persistence: an append-only file fsynced at every write (`--appendonly yes --appendfsync
   * always`), in a directory of its own, so that a killed server restarts with its data.
   * @default false
   */
  readonly persistent?: boolean
}

/** A port nothing listens on now: the one the system gave a server on port 0, then closed. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * Starts `redis-server --port <free port> --save ''`, with `--appendonly no` (the default), or
 * `--appendonly yes --appendfsync always --dir <a new temporary directory>` when persistent;
 * resolves once it answers.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = options.persistent === true ? await mkdtemp(join(tmpdir(), 'redis-')) : undefined
  const persistence =
    dir === undefined
      ? ['--appendonly', 'no']
      : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = started
    let output = ''
    const ready = new Promise<void>((resolve, reject) => {
      started.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
        if (/Ready to accept connections/.test(output)) resolve()
      })
      started.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${String(code)}: ${output}`)),
      )
      started.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT'
            ? new Error('redis-server is needed by this test: apt-get install redis-server', {
                cause: error,
              })
            : error,
        ),
      )
    })
    await ready
    await ping(port)
  }
  const kill = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = once(running, 'exit')
    running.kill('SIGKILL')
    await exited
  }
  const close = async (): Promise<void> => {
    await kill()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
  try {
    await start()
  } catch (error) {
    await close()
    throw error
  }
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, close }
}

/** Sends PING over a raw socket; resolves on +PONG. */
async function ping(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    socket.write('PING\r\n')
    const [data] = (await once(socket, 'data')) as [Buffer]
    if (!data.toString().startsWith('+PONG')) throw new Error(`redis answered ${data.toString()}`)
  } finally {
    socket.destroy()
  }
}
