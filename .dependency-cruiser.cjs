// The layers of src/, one way down (../shared/DESIGN.md): a folder imports only the folders before
// it in LAYERS. The folders beside the layers say what they may use. Type-only imports count.
const LAYERS = [
  'internal',
  'protocol',
  'errors',
  'socket',
  'job',
  'pod',
  'progress',
  ['sse', 'store', 'analytics'],
  'runner',
  // DESIGN.md lists queue/ with the consumers; its worker dispatches through the runner's pool.
  ['queue', 'compat'],
]

const folders = (layer) => (Array.isArray(layer) ? layer : [layer])
const anyOf = (names) => `^src/(${names.join('|')})/`

const layerRules = LAYERS.map((layer, index) => ({
  name: `layer-${folders(layer).join('-')}`,
  comment: `${folders(layer).join(', ')} may import only the layers below: ${LAYERS.slice(0, index).flat().join(', ') || 'none'}`,
  severity: 'error',
  from: { path: anyOf(folders(layer)) },
  to: {
    path: '^src/',
    pathNot: [
      anyOf(folders(layer)).replace(/\/$/, '/'),
      ...(index === 0 ? [] : [anyOf(LAYERS.slice(0, index).flat())]),
    ],
  },
}))

// Same-rank folders do not use one another.
const sameRank = LAYERS.filter(Array.isArray).flatMap((rank) =>
  rank.map((folder) => ({
    name: `beside-${folder}`,
    comment: `${folder} does not import the folders of its own rank`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: anyOf(rank.filter((other) => other !== folder)) },
  })),
)

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles, type-only ones included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    ...sameRank,
    {
      name: 'simulator-alone',
      comment: 'the simulator is self-contained: a ComfyUI server, not a client',
      severity: 'error',
      from: { path: '^src/simulator/' },
      to: { path: '^src/', pathNot: '^src/(simulator|internal)/' },
    },
    {
      name: 'browser-no-node',
      comment: 'browser code runs in a page: progress and errors only',
      severity: 'error',
      from: { path: '^src/browser/' },
      to: { path: '^src/', pathNot: '^src/(browser|progress|errors|internal)/' },
    },
    {
      name: 'nothing-uses-the-cli',
      comment: 'the CLI sits on top of everything',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'only-cli-uses-the-simulator',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|simulator)/|^src/simulator/index\\.ts$' },
      to: { path: '^src/simulator/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^src/',
  },
}
