import fc from 'fast-check'
import * as t from 'io-ts'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PreviewMetadata } from '../../src/protocol/BinaryFrame.js'
import {
  ExecutingMessage,
  FeatureFlagsMessage,
  messageCodecs,
  ProgressMessage,
  ProgressStateMessage,
  UnknownMessage,
} from '../../src/protocol/ComfyMessage.js'
import { compileGuard } from '../../src/protocol/compileGuard.js'
import { History, HistoryEntry, HistoryStatus } from '../../src/protocol/History.js'
import {
  Job,
  JobCancelAnswer,
  JobList,
  JobPreviewOutput,
  KnownJobStatus,
} from '../../src/protocol/Jobs.js'
import {
  DependencyCycleInfo,
  MissingNodeTypeInfo,
  NodeErrors,
  PromptAccepted,
  PromptError,
  PromptRejected,
} from '../../src/protocol/PromptResponse.js'
import { Queue, QueueItem } from '../../src/protocol/Queue.js'
import { ComfyPackageVersion, SystemStats } from '../../src/protocol/SystemStats.js'
import { readTrace, TRACE_NAMES } from '../support/traces.js'

/** A custom codec compileGuard does not know, with a spied `is`. */
const isEven = vi.fn((u: unknown) => typeof u === 'number' && u % 2 === 0)
const Even: t.Type<number> = new t.Type(
  'Even',
  (u): u is number => isEven(u),
  (u, c) => (Even.is(u) ? t.success(u) : t.failure(u, c)),
  t.identity,
)

interface Tree {
  label: string
  children: Tree[]
}
const Tree: t.Type<Tree> = t.recursion('Tree', () =>
  t.type({ label: t.string, children: t.array(Tree) }),
)

/** Every kind compileGuard compiles, and some it leaves to `is`, in one codec. */
const Zoo = t.intersection([
  t.type({
    type: t.union([t.literal('zoo'), t.literal(7), t.literal(false)]),
    pair: t.tuple([t.number, t.union([t.string, t.null])]),
    maybe: t.union([t.boolean, t.unknown]),
    list: t.array(t.partial({ a: t.string, b: t.array(t.number) })),
    map: t.record(t.string, t.union([t.number, t.UnknownRecord])),
  }),
  t.partial({
    int: t.Int,
    exact: t.exact(t.type({ a: t.string })),
    keys: t.keyof({ x: null, y: null }),
    undef: t.undefined,
    anyRecord: t.record(t.string, t.any),
    literalRecord: t.record(t.union([t.literal('a'), t.literal('b')]), t.number),
    nan: t.literal(NaN),
    even: Even,
    tree: Tree,
    tagged: t.union([
      t.type({ tag: t.literal('a'), x: t.string }),
      t.type({ tag: t.literal('b'), y: t.number }),
    ]),
  }),
])

/** Every codec of src/protocol, and the zoo, by name. */
const CODECS: readonly (readonly [string, { readonly is: t.Is<unknown> }])[] = [
  ...Array.from(messageCodecs, ([type, codec]) => [type, codec] as const),
  ['UnknownMessage', UnknownMessage],
  ['PreviewMetadata', PreviewMetadata],
  ['History', History],
  ['HistoryEntry', HistoryEntry],
  ['HistoryStatus', HistoryStatus],
  ['Queue', Queue],
  ['QueueItem', QueueItem],
  ['PromptAccepted', PromptAccepted],
  ['PromptRejected', PromptRejected],
  ['PromptError', PromptError],
  ['NodeErrors', NodeErrors],
  ['MissingNodeTypeInfo', MissingNodeTypeInfo],
  ['DependencyCycleInfo', DependencyCycleInfo],
  ['SystemStats', SystemStats],
  ['ComfyPackageVersion', ComfyPackageVersion],
  ['Job', Job],
  ['JobList', JobList],
  ['JobPreviewOutput', JobPreviewOutput],
  ['KnownJobStatus', KnownJobStatus],
  ['JobCancelAnswer', JobCancelAnswer],
  ['Zoo', Zoo],
]
const GUARDS = CODECS.map(([name, codec]) => ({ name, codec, guard: compileGuard(codec) }))

/** Fails, naming the codec, where a compiled guard and `codec.is` disagree on `value`. */
function expectAgreement(value: unknown): void {
  for (const { name, codec, guard } of GUARDS) {
    const expected = codec.is(value)
    if (guard(value) !== expected) {
      throw new Error(`${name}: compiled ${!expected}, io-ts ${expected} on ${show(value)}`)
    }
  }
}

function without(value: object, key: string): object {
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== key))
}

function withHole(items: unknown[], index: number): unknown[] {
  const copy = [...items]
  delete copy[index]
  return copy
}

function show(value: unknown): string {
  return fc.stringify(value).slice(0, 500)
}

/** `value` and every value nested in it. */
function nested(value: unknown): unknown[] {
  return typeof value === 'object' && value !== null
    ? [value, ...Object.values(value).flatMap(nested)]
    : [value]
}

/** A valid `Zoo`. */
const zoo = {
  type: 'zoo',
  pair: [1, null],
  maybe: undefined,
  list: [{ a: 'x', b: [1] }, {}],
  map: { a: 1, b: {} },
  int: 3,
  exact: { a: 'x', extra: 1 },
  keys: 'x',
  anyRecord: [1],
  literalRecord: { a: 1, b: 2 },
  even: 4,
  tree: { label: 'root', children: [{ label: 'leaf', children: [] }] },
  tagged: { tag: 'b', y: 1 },
}

const HAND_WRITTEN = [
  { type: 'feature_flags', data: { supports_preview_metadata: true } },
  { type: 'execution_interrupted', data: { prompt_id: 'p', node_id: '3', executed: ['1'] } },
  { type: 'logs', data: { entries: [{ t: 'now', m: 'line' }], size: { cols: 80, rows: 24 } } },
  { type: 'logs', data: { entries: [], size: null } },
  { type: 'status', data: { status: null, sid: null } },
  { type: 'unknown', rawType: 'custom', data: [1] },
  { node_id: '3', prompt_id: 'p', parent_node_id: null, image_type: 'image/png' },
  // Answers of servers after 0.3.64: a page of the Jobs API, a cancel, system_stats, rejections.
  {
    jobs: [
      { id: 'a', status: 'pending', priority: 3, create_time: 1, outputs_count: 0 },
      {
        id: 'b',
        status: 'failed',
        execution_start_time: 2,
        execution_end_time: 3,
        execution_error: { prompt_id: 'b', node_id: '3', current_inputs: [], timestamp: 3 },
        preview_output: {
          filename: 'x.png',
          type: 'output',
          id: 'i',
          nodeId: '9',
          mediaType: 'images',
        },
        workflow_id: 'w',
        outputs: { '9': { images: [{ filename: 'x.png', id: 'i' }] } },
        execution_status: {
          status_str: 'error',
          completed: false,
          messages: [['execution_error', {}]],
        },
        workflow: { prompt: {}, extra_data: { create_time: 1 } },
      },
      { id: 'c', status: 'paused', execution_status: null },
    ],
    pagination: { offset: 0, limit: null, total: 3, has_more: false },
  },
  { cancelled: true },
  {
    system: {
      os: 'darwin',
      required_frontend_version: null,
      installed_templates_version: '0.11.15',
      comfy_package_versions: [
        { name: 'comfyui-frontend-package', installed: null, required: '1.2' },
      ],
      deploy_environment: 'local-git',
    },
    devices: [
      { name: 'mps', type: 'mps', index: null },
      { name: 'cpu', type: 'cpu', index: 0 },
    ],
  },
  {
    error: {
      type: 'missing_node_type',
      message: 'm',
      details: "Node ID '#14'",
      extra_info: { node_id: '14', class_type: null, node_title: 'T' },
    },
    node_errors: {
      '4': {
        errors: [
          {
            type: 'dependency_cycle',
            message: 'm',
            extra_info: { node_id: '4', cycle_nodes: ['4', '7'] },
          },
        ],
        dependent_outputs: ['9'],
        class_type: 'KSampler',
      },
    },
  },
  zoo,
]

/** Valid values: every frame and REST answer recorded, and the kinds the traces lack. */
const SAMPLES: unknown[] = [
  ...TRACE_NAMES.flatMap((name) =>
    readTrace(name).flatMap((entry) =>
      entry.dir === 'ws-in' && entry.frame === 'text'
        ? [entry.msg]
        : entry.dir === 'http'
          ? [entry.resp]
          : [],
    ),
  ),
  ...HAND_WRITTEN,
]

const KEYS = [...new Set(SAMPLES.flatMap(nested).flatMap(keysOf))]
const LITERALS = [
  ...['zoo', 7, false, ...messageCodecs.keys(), 'unknown', 'a', 'b', 'x', 'y'],
  ...['pending', 'in_progress', 'cancelled', 'toString', 'dependency_cycle', 'missing_node_type'],
]

function keysOf(value: unknown): string[] {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.keys(value)
    : []
}

/** Any value, with the keys and literals of the codecs often enough to get deep into them. */
const anything = fc.anything({
  key: fc.oneof(fc.constantFrom(...KEYS, '__proto__', 'constructor', 'length'), fc.string()),
  values: [
    fc.constantFrom(...LITERALS),
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constantFrom(null, undefined, NaN, -0, Infinity),
  ],
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
})

type Mutation =
  | { readonly at: number; readonly op: 'set'; readonly value: unknown }
  | { readonly at: number; readonly op: 'delete' | 'undefined' | 'unprototype' }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), op: fc.constant('set' as const), value: anything }),
  fc.record({ at: fc.nat(), op: fc.constantFrom('delete', 'undefined', 'unprototype') }),
)

/** A copy of `sample` with each mutation applied to one of its properties or items. */
function mutate(sample: unknown, mutations: readonly Mutation[]): unknown {
  const copy: unknown = structuredClone(sample)
  const slots = nested(copy).flatMap((parent) =>
    typeof parent === 'object' && parent !== null
      ? Object.keys(parent).map((key) => ({ parent: parent as Record<string, unknown>, key }))
      : [],
  )
  if (slots.length === 0) return copy
  for (const change of mutations) {
    const { parent, key } = slots[change.at % slots.length]!
    if (change.op === 'set') parent[key] = change.value
    else if (change.op === 'delete') delete parent[key]
    else if (change.op === 'undefined') parent[key] = undefined
    else if (typeof parent[key] === 'object' && parent[key] !== null)
      parent[key] = Object.assign(Object.create(null) as object, parent[key])
  }
  return copy
}

describe('compileGuard', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('agrees with io-ts on every recorded frame and REST answer, and every value in them', () => {
    for (const value of SAMPLES.flatMap(nested)) expectAgreement(value)
  })

  it('accepts every recorded frame of a known type as its codec', () => {
    for (const value of SAMPLES) {
      const type = (value as { type?: unknown }).type
      const codec = typeof type === 'string' ? messageCodecs.get(type) : undefined
      if (codec !== undefined) expect(compileGuard(codec)(value)).toBe(true)
    }
  })

  it('agrees with io-ts on any value', () => {
    fc.assert(
      fc.property(anything, (value) => expectAgreement(value)),
      { numRuns: 5000 },
    )
  })

  it('agrees with io-ts on any value under a known message type', () => {
    fc.assert(
      fc.property(fc.constantFrom(...messageCodecs.keys()), anything, (type, data) =>
        expectAgreement({ type, data }),
      ),
      { numRuns: 3000 },
    )
  })

  it('agrees with io-ts on valid values with some of their parts changed', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...SAMPLES), fc.constantFrom(...HAND_WRITTEN)),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (sample, mutations) => expectAgreement(mutate(sample, mutations)),
      ),
      { numRuns: 5000 },
    )
  })

  const progress = { type: 'progress', data: { value: 1, max: 20 } }
  const executing = { type: 'executing', data: { node: null } }
  const node = { value: 1, max: 2, state: 'running', node_id: '3' }
  const progressState = { type: 'progress_state', data: { prompt_id: 'p', nodes: { '3': node } } }

  it.each<[string, { readonly is: t.Is<unknown> }, unknown, boolean]>([
    ['a valid message', ProgressMessage, progress, true],
    [
      'extra keys',
      ProgressMessage,
      { ...progress, kind: 'x', data: { ...progress.data, y: 1 } },
      true,
    ],
    [
      'NaN and Infinity as numbers',
      ProgressMessage,
      { ...progress, data: { value: NaN, max: Infinity } },
      true,
    ],
    [
      'a boxed number',
      ProgressMessage,
      { ...progress, data: { value: new Number(1), max: 2 } },
      false,
    ],
    ['another type literal', ProgressMessage, { ...progress, type: 'executing' }, false],
    ['a missing required key', ProgressMessage, { type: 'progress', data: { value: 1 } }, false],
    [
      'a required key set to undefined',
      ExecutingMessage,
      { ...executing, data: { node: undefined } },
      false,
    ],
    ['a required key set to null', ExecutingMessage, executing, true],
    [
      'an optional key set to undefined',
      ExecutingMessage,
      { ...executing, data: { node: null, prompt_id: undefined } },
      true,
    ],
    [
      'an optional key set to null',
      ExecutingMessage,
      { ...executing, data: { node: null, prompt_id: null } },
      false,
    ],
    ['an array where an object is expected', ExecutingMessage, { ...executing, data: [] }, false],
    ['null where an object is expected', ExecutingMessage, { ...executing, data: null }, false],
    ['an array as the message', ExecutingMessage, [executing], false],
    [
      'prototype-less objects',
      ExecutingMessage,
      Object.assign(Object.create(null) as object, {
        type: 'executing',
        data: Object.assign(Object.create(null) as object, { node: '3' }),
      }),
      true,
    ],
    [
      'an inherited required key',
      ExecutingMessage,
      { ...executing, data: Object.create({ node: '3' }) as object },
      true,
    ],
    [
      'an inherited key of a missing one',
      UnknownMessage,
      Object.create({ type: 'unknown', rawType: 'x', data: 1 }) as object,
      true,
    ],
    ['a missing t.unknown key', UnknownMessage, { type: 'unknown', rawType: 'x' }, false],
    [
      'a t.unknown key set to undefined',
      UnknownMessage,
      { type: 'unknown', rawType: 'x', data: undefined },
      true,
    ],
    ['a key set to undefined that its union accepts', Zoo, zoo, true],
    ['a missing key whose union accepts undefined', Zoo, without(zoo, 'maybe'), false],
    [
      'a missing key whose intersection accepts undefined',
      t.type({ a: t.intersection([t.unknown, t.unknown]) }),
      {},
      false,
    ],
    ['a record', ProgressStateMessage, progressState, true],
    [
      'an empty record',
      ProgressStateMessage,
      { ...progressState, data: { prompt_id: 'p', nodes: {} } },
      true,
    ],
    [
      'an array as a record',
      ProgressStateMessage,
      { ...progressState, data: { prompt_id: 'p', nodes: [node] } },
      false,
    ],
    [
      'a bad value deep in a record',
      ProgressStateMessage,
      {
        ...progressState,
        data: { prompt_id: 'p', nodes: { '3': node, '4': { ...node, max: '2' } } },
      },
      false,
    ],
    [
      'a bad value under an inherited key of a record (io-ts reads own keys only)',
      ProgressStateMessage,
      {
        ...progressState,
        data: {
          prompt_id: 'p',
          nodes: Object.assign(Object.create({ '4': { ...node, max: '2' } }) as object, {
            '3': node,
          }),
        },
      },
      true,
    ],
    [
      'a bad value under a non-enumerable key of a record',
      ProgressStateMessage,
      {
        ...progressState,
        data: {
          prompt_id: 'p',
          nodes: Object.defineProperty({ '3': node }, '4', { value: null, enumerable: false }),
        },
      },
      true,
    ],
    [
      'null in a record',
      ProgressStateMessage,
      { ...progressState, data: { prompt_id: 'p', nodes: { '3': null } } },
      false,
    ],
    [
      'a Date as an UnknownRecord',
      FeatureFlagsMessage,
      { type: 'feature_flags', data: new Date() },
      true,
    ],
    [
      'a Map as an UnknownRecord',
      FeatureFlagsMessage,
      { type: 'feature_flags', data: new Map() },
      true,
    ],
    [
      'an array as an UnknownRecord',
      FeatureFlagsMessage,
      { type: 'feature_flags', data: [] },
      false,
    ],
    [
      'a hole in an array, which every() skips',
      messageCodecs.get('execution_cached')!,
      { type: 'execution_cached', data: { prompt_id: 'p', nodes: withHole(['1', '2', '3'], 1) } },
      true,
    ],
    [
      'undefined in an array',
      messageCodecs.get('execution_cached')!,
      { type: 'execution_cached', data: { prompt_id: 'p', nodes: ['1', undefined] } },
      false,
    ],
    ['a tuple', QueueItem, [1, 'p', {}], true],
    ['a tuple with a hole', QueueItem, withHole([1, 'p', {}], 2), true],
    ['a short tuple', QueueItem, [1, 'p'], false],
    ['a long tuple', QueueItem, [1, 'p', {}, {}], false],
    ['a boolean', HistoryStatus, { status_str: 'success', completed: 'yes', messages: [] }, false],
    ['a string union member', PromptRejected, { error: 'bad' }, true],
    [
      'an own __proto__ key',
      t.type({ ['__proto__']: t.string }),
      JSON.parse('{"__proto__":"x"}'),
      true,
    ],
    ['no own __proto__ key', t.type({ ['__proto__']: t.string }), {}, false],
    ['an empty intersection', t.intersection([] as unknown as [t.Mixed, t.Mixed]), 1, true],
  ])('answers as io-ts on %s', (_, codec, value, expected) => {
    expect(codec.is(value)).toBe(expected)
    expect(compileGuard(codec)(value)).toBe(expected)
  })

  it('writes any property name and literal into the code as data', () => {
    const names = ['a"b', "'); throw new Error('injected'); ('", '\u2028\u2029', '\\', '`${x}`']
    const codec = t.type(Object.fromEntries(names.map((name) => [name, t.literal(name)])))
    const guard = compileGuard(codec)
    const value = Object.fromEntries(names.map((name) => [name, name]))
    expect(guard(value)).toBe(true)
    expect(guard({ ...value, [names[1]!]: 'x' })).toBe(false)
  })

  it('checks a codec it does not know with its own is', () => {
    const guard = compileGuard(
      t.type({ n: Even, list: t.array(Even), map: t.record(t.string, Even) }),
    )
    isEven.mockClear()
    expect(guard({ n: 2, list: [4, 6], map: { a: 8 } })).toBe(true)
    expect(isEven.mock.calls.map(([u]) => u)).toEqual([2, 4, 6, 8])
    expect(guard({ n: 2, list: [4, 5], map: {} })).toBe(false)
    expect(compileGuard(Even)(3)).toBe(false)
    expect(compileGuard(Tree)({ label: 'a', children: [{ label: 'b', children: [1] }] })).toBe(
      false,
    )
  })

  it('falls back to io-ts where code generation is disallowed', () => {
    const disallowed = vi.fn(function () {
      throw new EvalError('Code generation from strings disallowed for this context')
    })
    vi.stubGlobal('Function', disallowed)
    const guard = compileGuard(ProgressMessage)
    vi.unstubAllGlobals()
    expect(disallowed).toHaveBeenCalled()
    expect(guard(progress)).toBe(true)
    expect(guard({ type: 'progress', data: { value: '1', max: 20 } })).toBe(false)
  })
})
