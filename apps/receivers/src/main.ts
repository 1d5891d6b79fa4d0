/** Starts one example receiver on a port: `node dist/main.js <express|fastify|hono|next-route|node-http>`. */

import { serve } from '@hono/node-server'
import { createExpressReceiver } from './express.js'
import { createFastifyReceiver } from './fastify.js'
import { createHonoReceiver } from './hono.js'
import { POST } from './next-route.js'
import { createNodeReceiver } from './node-http.js'

const [kind = 'node-http'] = process.argv.slice(2)
const port = Number(process.env.PORT ?? 3000)
const secret = process.env.WEBHOOK_SECRET
if (!secret) {
  console.error('Set WEBHOOK_SECRET to the secret the sender signs with.')
  process.exit(2)
}

const starters: Record<string, () => unknown> = {
  express: () => void createExpressReceiver({ secret }).listen(port, '127.0.0.1'),
  fastify: () => createFastifyReceiver({ secret }).listen({ port, host: '127.0.0.1' }),
  hono: () =>
    void serve({ fetch: createHonoReceiver({ secret }).fetch, port, hostname: '127.0.0.1' }),
  'next-route': () => void serve({ fetch: POST, port, hostname: '127.0.0.1' }),
  'node-http': () => void createNodeReceiver({ secret }).listen(port, '127.0.0.1'),
}

const start = starters[kind]
if (start === undefined) {
  console.error(`Unknown receiver ${kind}; choose one of ${Object.keys(starters).join(', ')}`)
  process.exit(2)
}
await start()
console.log(`${kind} receiver: POST http://127.0.0.1:${port}/segment`)
