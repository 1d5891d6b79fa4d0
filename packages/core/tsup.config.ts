import { readdirSync, rmSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'

const shared: Options = {
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['node:crypto'],
  // Keep 'node:crypto' as written: Deno, Bun and Workers resolve the prefixed name.
  removeNodeProtocol: false,
}

/** Every module of src/ (tests live in src/__tests__/). */
const modules = readdirSync('src')
  .filter((name) => name.endsWith('.ts'))
  .map((name) => `src/${name}`)

// The two builds below write into dist/ at the same time, so neither may clean it: start empty here.
rmSync('dist', { recursive: true, force: true })

export default defineConfig([
  {
    // ESM keeps one file per module, and each is also an entry (`@analytics-webhooks/core/settings`).
    // With `sideEffects: false` a bundler drops every module a page does not use, and a page can load
    // one (signing) lazily: bundlers split code by module.
    entry: modules,
    format: ['esm'],
    bundle: false,
    dts: { entry: modules },
    ...shared,
  },
  {
    // CommonJS is one file (two with node): every subpath's `require` resolves to index.cjs, with
    // that module's types, so each class exists once and `instanceof` holds across subpaths.
    entry: ['src/index.ts', 'src/node.ts'],
    format: ['cjs'],
    dts: { entry: modules },
    ...shared,
  },
])
