import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
    removeNodeProtocol: false,
    external: [
      'better-sqlite3',
      'undici',
      'pg',
      '@analytics-webhooks/core',
      '@segment/analytics-node',
    ],
  },
  {
    entry: ['src/cli.ts'],
    format: ['esm'],
    dts: false,
    clean: false,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
    removeNodeProtocol: false,
    banner: { js: '#!/usr/bin/env node' },
    external: [
      'better-sqlite3',
      'undici',
      'pg',
      '@analytics-webhooks/core',
      '@segment/analytics-node',
    ],
  },
])
