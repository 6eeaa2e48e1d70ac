import * as t from 'io-ts'

/*
 * Codecs of the text frames a ComfyUI server sends (protocol §2). Each codec is `t.type`, never
 * `t.exact`: newer servers add fields, and fields older servers omit are `t.partial`.
 */

const PromptScoped = t.type({ prompt_id: t.string })
const Timestamped = t.partial({ timestamp: t.number })

/** `status`: the server-wide queue depth; `sid` only in the message sent on connect (§2.1). */
export const StatusMessage = t.type({
  type: t.literal('status'),
  data: t.partial({
    status: t.union([t.type({ exec_info: t.type({ queue_remaining: t.number }) }), t.null]),
    sid: t.union([t.string, t.null]),
  }),
})
export type StatusMessage = t.TypeOf<typeof StatusMessage>

/** `feature_flags`: the server's answer to the client's handshake; an open map (§1.4). */
export const FeatureFlagsMessage = t.type({
  type: t.literal('feature_flags'),
  data: t.UnknownRecord,
})
export type FeatureFlagsMessage = t.TypeOf<typeof FeatureFlagsMessage>

/** `execution_start`: the worker began the prompt (§2.3). */
export const ExecutionStartMessage = t.type({
  type: t.literal('execution_start'),
  data: t.intersection([PromptScoped, Timestamped]),
})
export type ExecutionStartMessage = t.TypeOf<typeof ExecutionStartMessage>

/** `execution_cached`: the prompt's nodes whose outputs were already cached (§2.4). */
export const ExecutionCachedMessage = t.type({
  type: t.literal('execution_cached'),
  data: t.intersection([PromptScoped, t.type({ nodes: t.array(t.string) }), Timestamped]),
})
export type ExecutionCachedMessage = t.TypeOf<typeof ExecutionCachedMessage>

/**
 * `executing`: a node started, or with `node: null` the prompt finished (§2.5, §3.7). The form
 * re-sent on reconnect has neither `prompt_id` nor `display_node`.
 */
export const ExecutingMessage = t.type({
  type: t.literal('executing'),
  data: t.intersection([
    t.type({ node: t.union([t.string, t.null]) }),
    t.partial({ display_node: t.string, prompt_id: t.string }),
  ]),
})
export type ExecutingMessage = t.TypeOf<typeof ExecutingMessage>

/** `progress`: step progress of the one node now reporting (§2.6). */
export const ProgressMessage = t.type({
  type: t.literal('progress'),
  data: t.intersection([
    t.type({ value: t.number, max: t.number }),
    t.partial({ prompt_id: t.string, node: t.string }),
  ]),
})
export type ProgressMessage = t.TypeOf<typeof ProgressMessage>

/** One node's entry in a `progress_state` snapshot (§2.7). */
export const NodeProgress = t.intersection([
  t.type({ value: t.number, max: t.number, state: t.string, node_id: t.string }),
  t.partial({
    prompt_id: t.string,
    display_node_id: t.string,
    parent_node_id: t.union([t.string, t.null]),
    real_node_id: t.string,
    activity: t.string,
  }),
])
export type NodeProgress = t.TypeOf<typeof NodeProgress>

/** `progress_state`: a complete snapshot of every node of the prompt that has started (§2.7). */
export const ProgressStateMessage = t.type({
  type: t.literal('progress_state'),
  data: t.intersection([PromptScoped, t.type({ nodes: t.record(t.string, NodeProgress) })]),
})
export type ProgressStateMessage = t.TypeOf<typeof ProgressStateMessage>

/** A node's UI output: every value is a list (`images`, `text`, `animated`, …) (§2.8). */
export const NodeOutput = t.UnknownRecord
export type NodeOutput = t.TypeOf<typeof NodeOutput>

/** `executed`: an output node's UI output; not a completion signal (§2.8, §3.3). */
export const ExecutedMessage = t.type({
  type: t.literal('executed'),
  data: t.intersection([
    t.type({ node: t.string, output: t.union([NodeOutput, t.null]) }),
    t.partial({ display_node: t.string, prompt_id: t.string }),
  ]),
})
export type ExecutedMessage = t.TypeOf<typeof ExecutedMessage>

/** `execution_success`: every node finished without error (§2.9). */
export const ExecutionSuccessMessage = t.type({
  type: t.literal('execution_success'),
  data: t.intersection([PromptScoped, Timestamped]),
})
export type ExecutionSuccessMessage = t.TypeOf<typeof ExecutionSuccessMessage>

/** The fields of `execution_error` (§2.10); non-core backends omit most of them. */
export const ExecutionErrorData = t.intersection([
  PromptScoped,
  t.partial({
    node_id: t.string,
    node_type: t.string,
    executed: t.array(t.string),
    exception_message: t.string,
    exception_type: t.string,
    traceback: t.array(t.string),
    current_inputs: t.unknown,
    current_outputs: t.array(t.string),
    timestamp: t.number,
  }),
])
export type ExecutionErrorData = t.TypeOf<typeof ExecutionErrorData>

/**
 * `execution_error`: terminal, except the "ExecutionBlocked" variant, which carries no
 * timestamp and after which execution goes on (§2.10).
 */
export const ExecutionErrorMessage = t.type({
  type: t.literal('execution_error'),
  data: ExecutionErrorData,
})
export type ExecutionErrorMessage = t.TypeOf<typeof ExecutionErrorMessage>

/** The fields of `execution_interrupted` (§2.11). */
export const ExecutionInterruptedData = t.intersection([
  PromptScoped,
  t.partial({
    node_id: t.string,
    node_type: t.string,
    executed: t.array(t.string),
    timestamp: t.number,
  }),
])
export type ExecutionInterruptedData = t.TypeOf<typeof ExecutionInterruptedData>

/** `execution_interrupted`: terminal (§2.11). */
export const ExecutionInterruptedMessage = t.type({
  type: t.literal('execution_interrupted'),
  data: ExecutionInterruptedData,
})
export type ExecutionInterruptedMessage = t.TypeOf<typeof ExecutionInterruptedMessage>

/** `logs`: terminal output, only for sockets that subscribed to it (§2.12). */
export const LogsMessage = t.type({
  type: t.literal('logs'),
  data: t.type({
    entries: t.array(t.type({ t: t.string, m: t.string })),
    size: t.union([t.type({ cols: t.number, rows: t.number }), t.null]),
  }),
})
export type LogsMessage = t.TypeOf<typeof LogsMessage>

/**
 * A text frame of a `type` this library does not know (custom nodes can send anything, §2.13),
 * kept with its original `rawType` and `data`.
 */
export const UnknownMessage = t.type({
  type: t.literal('unknown'),
  rawType: t.string,
  data: t.unknown,
})
export type UnknownMessage = t.TypeOf<typeof UnknownMessage>

/** Every decoded text frame. */
export type ComfyMessage =
  | StatusMessage
  | FeatureFlagsMessage
  | ExecutionStartMessage
  | ExecutionCachedMessage
  | ExecutingMessage
  | ProgressMessage
  | ProgressStateMessage
  | ExecutedMessage
  | ExecutionSuccessMessage
  | ExecutionErrorMessage
  | ExecutionInterruptedMessage
  | LogsMessage
  | UnknownMessage

/** What decoding needs of a codec: its type guard (the fast path) and its decoder (the errors). */
type MessageCodec = t.Decoder<unknown, ComfyMessage> & { readonly is: t.Is<ComfyMessage> }

/** The codec of each known wire `type`, looked up once per frame instead of trying a union. */
export const messageCodecs: ReadonlyMap<string, MessageCodec> = new Map<string, MessageCodec>([
  ['status', StatusMessage],
  ['feature_flags', FeatureFlagsMessage],
  ['execution_start', ExecutionStartMessage],
  ['execution_cached', ExecutionCachedMessage],
  ['executing', ExecutingMessage],
  ['progress', ProgressMessage],
  ['progress_state', ProgressStateMessage],
  ['executed', ExecutedMessage],
  ['execution_success', ExecutionSuccessMessage],
  ['execution_error', ExecutionErrorMessage],
  ['execution_interrupted', ExecutionInterruptedMessage],
  ['logs', LogsMessage],
])
