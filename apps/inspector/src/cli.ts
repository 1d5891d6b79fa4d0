#!/usr/bin/env node
/** The `inspector` command: starts the inspector from flags and environment variables and prints where it is. */

import { parseArgs } from 'node:util'
import { createInspector } from './inspector.js'

const HELP = `Usage: inspector [options]

A local webhook receiver with a live page.

Options:
  --port <n>         port to listen on (default 4000, env PORT; 0 picks a free one)
  --host <address>   address to listen on (default 127.0.0.1)
  --secret <secret>  shared secret to verify signatures with (prefer env WEBHOOK_SECRET:
                     flags show up in the process list)
  --strict           answer 401 to deliveries whose signature does not verify
  --capacity <n>     deliveries kept in memory (default 100)
  -h, --help         show this help
`

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    secret: { type: 'string' },
    strict: { type: 'boolean' },
    capacity: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const secret = values.secret ?? process.env.WEBHOOK_SECRET
const inspector = await createInspector({
  port: toInteger('--port', values.port ?? process.env.PORT ?? '4000'),
  host: values.host ?? '127.0.0.1',
  secret,
  strict: values.strict ?? false,
  capacity: toInteger('--capacity', values.capacity ?? '100'),
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void inspector.close().then(() => process.exit(0))
  })
}

console.log(`Inspector: ${inspector.url}`)
console.log(`Send webhooks to: ${inspector.hooksUrl} (or ${inspector.hooksUrl}/<name>)`)
console.log(
  secret
    ? 'Signatures: checked against the configured secret'
    : 'Signatures: not checked (set WEBHOOK_SECRET or --secret)',
)
console.log('Press Ctrl+C to stop.')

function toInteger(flag: string, text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${flag} must be a whole number, got ${JSON.stringify(text)}`)
    process.exit(2)
  }
  return value
}
