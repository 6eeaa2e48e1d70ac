import * as t from 'io-ts'

/** A queue item, `[number, prompt_id, prompt, extra_data, outputs_to_execute]`, read up to the prompt (§5.4). */
export const QueueItem = t.tuple([t.number, t.string, t.unknown])
export type QueueItem = t.TypeOf<typeof QueueItem>

/** `GET /queue`: the running prompt (0 or 1) and the pending ones in heap order, not sorted (§5.4). */
export const Queue = t.type({
  queue_running: t.array(QueueItem),
  queue_pending: t.array(QueueItem),
})
export type Queue = t.TypeOf<typeof Queue>
