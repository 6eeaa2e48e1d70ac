import { Redis, type RedisOptions } from 'ioredis'
import { invalid } from '../internal/optionChecks.js'

/**
 * The Redis of a job queue: a `redis://` URL, ioredis options, or an ioredis client, whose options
 * are used (BullMQ needs connections of its own: some block).
 */
export type QueueConnection = string | RedisOptions | Redis

/** @internal ioredis options, replies in their default shapes (as BullMQ and the store read them). */
export type ConnectionSettings = Omit<RedisOptions, 'replyMapping' | 'lazyConnect'>

/**
 * @internal The ioredis options of a connection.
 * @throws TypeError for anything else than a redis:// URL, ioredis options or an ioredis client
 */
export function redisOptionsOf(connection: QueueConnection): ConnectionSettings {
  if (connection instanceof Redis) return withoutLazyConnect(connection.options)
  if (typeof connection === 'string') {
    if (!/^rediss?:\/\//.test(connection))
      invalid('connection', '(not a redis:// URL)', 'a redis:// URL, ioredis options or client')
    // ioredis parses the URL; a lazy client never connects.
    const parser = new Redis(connection, { lazyConnect: true })
    parser.disconnect()
    return withoutLazyConnect(parser.options)
  }
  if (typeof connection !== 'object' || connection === null)
    invalid('connection', connection, 'a redis:// URL, ioredis options or client')
  return withoutLazyConnect(connection)
}

function withoutLazyConnect(options: RedisOptions): ConnectionSettings {
  const settings: RedisOptions = { ...options }
  delete settings.lazyConnect
  delete settings.replyMapping
  return settings
}
