import type { ConnectionState } from '../../src/index.js'
import type { Workflow } from '../../src/job/Workflow.js'
import type { HistoryEntry } from '../../src/protocol/History.js'

// What the virtual-time job specs share: a one-node workflow, socket states, a history entry.

export const oneNodeWorkflow: Workflow = { '1': { class_type: 'SaveImage', inputs: {} } }
export const connecting: ConnectionState = { state: 'connecting', attempt: 1 }
export const open: ConnectionState = { state: 'open', connectTimeMs: 1 }
export const failed: ConnectionState = { state: 'failed', reason: 'refused', code: 'refused' }
export const reconnecting: ConnectionState = {
  state: 'reconnecting',
  attempt: 1,
  delayMs: 500,
  reason: 'closed',
}
/** A prompt that succeeded, with no outputs. */
export const succeeded: HistoryEntry = {
  outputs: {},
  status: { status_str: 'success', completed: true, messages: [] },
}
