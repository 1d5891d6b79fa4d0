/** A bench receiver in its own process (so it never competes with the sender's event loop): counts events, answers GET with the count. */

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const status = Number(process.argv[2] ?? 200)
let events = 0

function countEvents(path: string, body: string): number {
  if (path.startsWith('/v1/batch')) return (JSON.parse(body) as { batch: unknown[] }).batch.length
  return body.charCodeAt(0) === 0x5b ? (JSON.parse(body) as unknown[]).length : 1
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(String(events))
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    if (status >= 200 && status < 300)
      events += countEvents(req.url ?? '/', Buffer.concat(chunks).toString('utf8'))
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end('{}')
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`)
})
