import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/express.ts', 'src/fastify.ts', 'src/web.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  // Keep `node:` specifiers: Deno, Bun and Workers (nodejs_compat) resolve only those.
  removeNodeProtocol: false,
  // Users install nothing but this package: core's rules are bundled in.
  noExternal: ['@analytics-webhooks/core'],
  external: ['node:crypto', 'fastify'],
})
