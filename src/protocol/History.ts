import * as t from 'io-ts'
import { NodeOutput } from './ComfyMessage.js'

/** How a finished prompt ended: `messages` holds the start, cached and terminal events (§5.6). */
export const HistoryStatus = t.type({
  status_str: t.string,
  completed: t.boolean,
  messages: t.array(t.tuple([t.string, t.unknown])),
})
export type HistoryStatus = t.TypeOf<typeof HistoryStatus>

/**
 * One finished prompt in `GET /history/{id}` (§5.6). Entries of old servers have no status;
 * `task_done` writes a null one when it is given none. File entries in `outputs` may carry extra
 * keys (`id` in assets mode, v0.25.0).
 */
export const HistoryEntry = t.intersection([
  t.type({ outputs: t.record(t.string, NodeOutput) }),
  t.partial({ prompt: t.unknown, status: t.union([HistoryStatus, t.null]), meta: t.unknown }),
])
export type HistoryEntry = t.TypeOf<typeof HistoryEntry>

/** `GET /history/{id}`: `{}` until the prompt has finished, then `{[promptId]: entry}` (§5.6). */
export const History = t.record(t.string, HistoryEntry)
export type History = t.TypeOf<typeof History>
