import type { ConnectionOptions } from 'bullmq'
import type { ConnectionSettings } from './QueueConnection.js'

/**
 * @internal BullMQ's connection options: the queue's, with no limit on the retries of a command
 * (BullMQ's workers block on their connection, and wait out a Redis restart).
 */
export function bullConnection(settings: ConnectionSettings): ConnectionOptions {
  return { ...settings, maxRetriesPerRequest: null } as ConnectionOptions
}
