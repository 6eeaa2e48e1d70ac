import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'simulator/index': 'src/simulator/index.ts',
    'cli/index': 'src/cli/index.ts',
    'browser/index': 'src/browser/index.ts',
    'analytics/index': 'src/analytics/index.ts',
    'store/index': 'src/store/index.ts',
    'cli/main': 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  treeshake: true,
})
