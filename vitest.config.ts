import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = fileURLToPath(new URL('./src/', import.meta.url))

export default defineConfig({
  // The package's own names, as the examples use them (tsconfig `paths` says the same to tsc and tsx).
  resolve: {
    alias: [
      {
        find: /^comfyui-rx\/(simulator|cli|browser|analytics|store|queue)$/,
        replacement: `${src}$1/index.ts`,
      },
      { find: /^comfyui-rx$/, replacement: `${src}index.ts` },
    ],
  },
  test: {
    include: ['spec/**/*.spec.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The public API's types (expectTypeOf), checked by tsc over spec/types only.
    typecheck: {
      enabled: true,
      include: ['spec/types/**/*.test-d.ts'],
      tsconfig: 'spec/types/tsconfig.json',
    },
    globalSetup: ['spec/setup/provisionSystemPackages.ts'],
    benchmark: { include: ['spec/bench/**/*.bench.ts'] },
  },
})
