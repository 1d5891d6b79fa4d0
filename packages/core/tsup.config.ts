import { rmSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'

const shared: Options = {
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['node:crypto'],
  // Keep 'node:crypto' as written: Deno, Bun and Workers resolve the prefixed name.
  removeNodeProtocol: false,
}

// The two builds below write into dist/ at the same time, so neither may clean it: start empty here.
rmSync('dist', { recursive: true, force: true })

export default defineConfig([
  {
    // ESM keeps one file per module. With `sideEffects: false` a bundler then drops every module a
    // page does not use, and can put one (signing) in a lazy chunk: bundlers split by module.
    entry: ['src/*.ts'],
    format: ['esm'],
    bundle: false,
    dts: { entry: ['src/index.ts', 'src/node.ts'] },
    ...shared,
  },
  {
    entry: ['src/index.ts', 'src/node.ts'],
    format: ['cjs'],
    dts: true,
    ...shared,
  },
])
