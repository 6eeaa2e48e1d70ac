import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'simulator/index': 'src/simulator/index.ts',
    'cli/index': 'src/cli/index.ts',
    'browser/index': 'src/browser/index.ts',
    'analytics/index': 'src/analytics/index.ts',
    'store/index': 'src/store/index.ts',
    'queue/index': 'src/queue/index.ts',
    'cli/main': 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  // Declarations leave out what is marked `@internal`. A declaration file that the entry points
  // reach and that imports such a symbol fails the build ('"X" is not exported by …'): give the
  // public type its own file rather than share one with internal signatures.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Shared code in chunks that every entry point imports, in both formats (CJS splitting is
  // experimental in tsup), so that each class exists once: an error from comfyui-rx/store is an
  // instance of the ComfyError of 'comfyui-rx'. spec/package/tarball.spec.ts checks it.
  splitting: true,
  treeshake: true,
})
