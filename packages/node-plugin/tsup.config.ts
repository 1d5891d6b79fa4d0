import { defineConfig } from 'tsup'

export default defineConfig([
  {
    // The dashboard is its own entry, so an app that never mounts it loads none of it.
    entry: { index: 'src/index.ts', 'dashboard/index': 'src/dashboard/index.ts' },
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
