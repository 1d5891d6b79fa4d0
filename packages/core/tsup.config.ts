import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['node:crypto'],
  // Keep 'node:crypto' as written: Deno, Bun and Workers resolve the prefixed name.
  removeNodeProtocol: false,
})
