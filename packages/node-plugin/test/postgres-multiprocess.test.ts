/** Several processes share one PostgreSQL queue: a worker killed with SIGKILL mid-stream loses nothing, and its leases are taken over. */

import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import pg from 'pg'
import { afterEach, expect, it } from 'vitest'
import { KILL_SETTINGS } from './fixtures/kill-settings.js'
import { onLines } from './fixtures/lines.js'
import { describePostgres, dropSchemas, uniqueSchemaName } from './postgres-database.js'

const WORKER = join(import.meta.dirname, 'postgres-fixtures', 'worker.ts')
const PRODUCER = join(import.meta.dirname, 'postgres-fixtures', 'producer.ts')
const LEASE_MS = 3000
const EVENTS = 3000

type Child = ChildProcessByStdio<Writable, Readable, null> & {
  lines: string[]
  waitFor(line: string): Promise<void>
}

/** Starts `node --import tsx <file> ...args`, keeping its stdout lines. */
function start(file: string, args: string[], onLine: (line: string) => void = () => {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  }) as Child
  child.lines = []
  const waiters: { line: string; resolve: () => void }[] = []
  onLines(child.stdout, (line) => {
    child.lines.push(line)
    onLine(line)
    for (const w of waiters.filter((x) => x.line === line)) w.resolve()
  })
  child.waitFor = (line) =>
    child.lines.includes(line)
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          waiters.push({ line, resolve })
          child.once('exit', (code, signal) =>
            reject(new Error(`${file} exited (${code ?? signal}) before "${line}"`)),
          )
        })
  return child
}

/**
 * A webhook receiver on 127.0.0.1 that counts deliveries per messageId, and,
 * for requests with a `webhook-id`, the bodies seen under each id and what a
 * receiver that dedupes on it would process.
 */
async function countingReceiver(): Promise<{
  url: string
  counts: Map<string, number>
  bodies: Map<string, Set<string>>
  processed: string[]
  total(): number
  server: Server
}> {
  const counts = new Map<string, number>()
  const bodies = new Map<string, Set<string>>()
  const processed: string[] = []
  let requests = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const parsed = JSON.parse(text) as { messageId: string } | { messageId: string }[]
      const events = Array.isArray(parsed) ? parsed : [parsed]
      const id = req.headers['webhook-id']
      if (typeof id === 'string') {
        if (!bodies.has(id)) for (const event of events) processed.push(event.messageId)
        bodies.set(id, (bodies.get(id) ?? new Set()).add(text))
      }
      for (const event of events) {
        counts.set(event.messageId, (counts.get(event.messageId) ?? 0) + 1)
        requests++
      }
      // A little latency, as a real endpoint has, so workers hold claims while they send.
      setTimeout(() => res.writeHead(200).end('ok'), 10)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    counts,
    bodies,
    processed,
    total: () => requests,
    server,
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describePostgres('several processes on one PostgreSQL queue', (url) => {
  const children: Child[] = []
  const schemas: string[] = []
  let server: Server | undefined

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await dropSchemas(url, schemas.splice(0))
  })

  it.each(KILL_SETTINGS)(
    'three workers, one killed with SIGKILL mid-stream: every acknowledged event delivered, duplicates bounded by its claims (%s)',
    {
      timeout: 90_000,
    },
    async (_, settings) => {
      const extra = JSON.stringify(settings)
      const schema = uniqueSchemaName('aw_multi')
      schemas.push(schema)
      const receiver = await countingReceiver()
      server = receiver.server

      // Three workers open (and migrate) the same schema at once.
      const workers = [0, 1, 2].map(() =>
        start(WORKER, [url, schema, receiver.url, String(LEASE_MS), '4', extra]),
      )
      children.push(...workers)
      await Promise.all(workers.map((w) => w.waitFor('ready')))
      for (const w of workers) w.stdin.write('go\n')
      await Promise.all(workers.map((w) => w.waitFor('started')))

      const acked = new Set<string>()
      const producer = start(
        PRODUCER,
        [url, schema, receiver.url, String(EVENTS), String(LEASE_MS), extra],
        (line) => {
          if (line.startsWith('ack ')) acked.add(line.slice(4))
        },
      )
      children.push(producer)
      await producer.waitFor('ready')

      // Kill one worker mid-stream: deliveries flowing, the producer still tracking, the victim holding claims.
      const victim = workers[0] as Child
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      const claimsOf = async (pid: number | undefined) => {
        // Deliveries it holds: rows, and those of its leased blocks that have no outcome yet.
        const { rows } = await admin.query<{ n: number }>(
          `SELECT (SELECT count(*) FROM "${schema}".deliveries WHERE lease_owner LIKE $1)::int
                + (SELECT COALESCE(sum(count - done), 0) FROM "${schema}".delivery_blocks
                   WHERE lease_owner LIKE $1)::int AS n`,
          [`${pid}-%`],
        )
        return rows[0]?.n ?? 0
      }
      let killedClaims: number
      let deliveredAtKill: number
      try {
        for (let i = 0; i < 400 && receiver.total() < 300; i++) await sleep(25)
        // Batches drain fast: wait (up to 10 s) for a moment the victim holds claims.
        for (let i = 0; i < 2000 && (await claimsOf(victim.pid)) === 0; i++) await sleep(5)
        const exited = new Promise<NodeJS.Signals | null>((resolve) =>
          victim.once('exit', (_c, signal) => resolve(signal)),
        )
        victim.kill('SIGKILL')
        expect(await exited).toBe('SIGKILL')
        deliveredAtKill = receiver.total()
        // What the dead worker still held: only these can be sent twice.
        killedClaims = await claimsOf(victim.pid)
      } finally {
        await admin.end()
      }
      expect(killedClaims).toBeGreaterThan(0)

      await producer.waitFor('done')
      const ackedAll = new Set(acked)
      // The survivors deliver the rest, including the dead worker's claims once its leases expire.
      const deadline = Date.now() + 45_000
      while (Date.now() < deadline && [...ackedAll].some((id) => !receiver.counts.has(id)))
        await sleep(100)

      const lost = [...ackedAll].filter((id) => !receiver.counts.has(id)).length
      const duplicates = [...receiver.counts.values()].reduce((sum, n) => sum + n - 1, 0)
      // Requests the dead worker sent (recorded or not) are sent again with the same bytes under the
      // same id: a receiver that dedupes on webhook-id processes every event once.
      const processedTwice = receiver.processed.length - new Set(receiver.processed).size
      console.log(
        `PostgreSQL, 3 workers, 1 SIGKILLed after ${deliveredAtKill} deliveries holding ${killedClaims} claims: ` +
          `acknowledged ${ackedAll.size}/${EVENTS}, lost ${lost}, duplicates ${duplicates}` +
          (receiver.bodies.size > 0
            ? `, processed twice when deduping on webhook-id ${processedTwice}`
            : ''),
      )
      expect(ackedAll.size).toBe(EVENTS)
      expect(lost).toBe(0)
      expect(duplicates).toBeLessThanOrEqual(killedClaims)
      for (const [id, sent] of receiver.bodies) expect([id, sent.size]).toEqual([id, 1])
      expect(processedTwice).toBe(0)

      for (const w of workers.slice(1)) w.kill('SIGTERM')
    },
  )
})
