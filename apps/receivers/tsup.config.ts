import { defineConfig } from 'tsup'

export default defineConfig({
  entry: [
    'src/express.ts',
    'src/fastify.ts',
    'src/hono.ts',
    'src/next-route.ts',
    'src/node-http.ts',
    'src/main.ts',
  ],
  format: ['esm'],
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
})
