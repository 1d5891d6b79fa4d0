import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/demo.ts', 'src/main.ts', 'src/sender.ts'],
  format: ['esm'],
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
})
