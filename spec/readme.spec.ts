import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const root = new URL('../', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')

/** README code blocks that name their file in a first-line comment: `// examples/x.ts`. */
const blocks = [...readme.matchAll(/```ts\n\/\/ (examples\/\S+\.ts)\n([\s\S]*?)```/g)].map(
  ([, file, code]) => ({
    file: file!,
    code: code!,
  }),
)

describe('README', () => {
  it('shows examples that exist', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  // The files are type-checked by `npm run typecheck`, so the README's examples compile.
  it.each(blocks)('shows $file exactly as it is in the tree', ({ file, code }) => {
    expect(readFileSync(new URL(file, root), 'utf8')).toBe(code)
  })

  it('gives the two commands that work on a fresh machine', () => {
    expect(readme).toContain('npm ci && npm start')
    expect(readme).toContain('npm ci && npm test')
  })
})
