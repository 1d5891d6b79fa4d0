/** The PostgreSQL bench: drain rate with 1, 2 and 4 worker processes against SQLite in one (unbatched and batched), and enqueue throughput from 4 processes, with CPU use to name the bottleneck. */

import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { encodeEvent } from '@analytics-webhooks/core'
import pg from 'pg'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'
import type { NewDelivery, QueueStore } from '../src/store/types.js'
import { dropSchemas, uniqueSchemaName } from '../test/postgres-database.js'
import { sampleEvent, size, startReceiver } from './harness.js'

const DRAIN_EVENTS = size('BENCH_PG_DRAIN_EVENTS', 20_000)
/** Batched drains are five times faster: more events, so the CPU readings (10 ms ticks) mean something. */
const BATCHED_EVENTS = size('BENCH_PG_BATCHED_EVENTS', 100_000)
const ENQUEUE_EVENTS = size('BENCH_PG_ENQUEUE_EVENTS', 25_000)
const ENQUEUE_GROUP = size('BENCH_PG_ENQUEUE_GROUP', 100)
const CONCURRENCY = size('BENCH_CONCURRENCY', 10)
const BATCH_SIZE = size('BENCH_PG_BATCH_SIZE', 100)
const WORKER = join(import.meta.dirname, 'postgres-worker.ts')
const ENQUEUER = join(import.meta.dirname, 'postgres-enqueue.ts')

type Child = ChildProcessByStdio<Writable, Readable, null> & {
  lines: string[]
  next(prefix: string): Promise<string>
}

function start(file: string, args: string[]): Child {
  // BENCH_PROFILE_DIR=/tmp/prof writes a CPU profile of every worker and enqueuer process there.
  const profile = process.env.BENCH_PROFILE_DIR
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', file, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  }) as Child
  child.lines = []
  let buffered = ''
  const waiters: { prefix: string; resolve(line: string): void }[] = []
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      child.lines.push(line)
      for (const w of waiters.splice(0)) {
        if (line.startsWith(w.prefix)) w.resolve(line)
        else waiters.push(w)
      }
    }
  })
  child.next = (prefix) =>
    new Promise((resolve, reject) => {
      const seen = child.lines.find((l) => l.startsWith(prefix))
      if (seen) return resolve(seen)
      waiters.push({ prefix, resolve })
      child.once('exit', (code) =>
        reject(new Error(`${file} exited with ${code} before "${prefix}"`)),
      )
    })
  return child
}

/** CPU time (ms) used so far by the machine (busy, all cores) and by the PostgreSQL server's processes. */
function cpuSnapshot(): { busyMs: number; totalMs: number; postgresMs: Map<number, number> } {
  const tick = 10 // USER_HZ is 100 on Linux
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  const total = fields.reduce((a, b) => a + b, 0)
  const postgresMs = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      if (comm !== 'postgres') continue
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      postgresMs.set(Number(entry), (Number(rest[11]) + Number(rest[12])) * tick)
    } catch {
      // the process exited while we looked
    }
  }
  return { busyMs: (total - idle) * tick, totalMs: total * tick, postgresMs }
}

function postgresCpuSince(
  before: ReturnType<typeof cpuSnapshot>,
  after: ReturnType<typeof cpuSnapshot>,
): number {
  let ms = 0
  for (const [pid, now] of after.postgresMs) ms += now - (before.postgresMs.get(pid) ?? 0)
  return ms
}

function backlog(n: number): NewDelivery[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    body: encodeEvent({ type: 'track', ...sampleEvent(i) } as never),
    messageId: `bench-${i}`,
    enqueuedAt: Date.now(),
  }))
}

async function fill(store: QueueStore, items: readonly NewDelivery[]): Promise<void> {
  await store.open()
  for (let i = 0; i < items.length; i += 1000)
    await store.enqueue('default', items.slice(i, i + 1000))
  await store.close()
}

interface DrainRun {
  readonly label: string
  readonly processes: number
  readonly events: number
  readonly seconds: number
  readonly rate: number
  readonly machineBusy: number
  readonly workerCpuS: number
  readonly postgresCpuS: number
  /** CPU seconds the whole machine spent busy during the run (all cores). */
  readonly busyCpuS: number
}

/** Resolves when `child` has exited, or after 10 s. */
function exited(child: Child): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Starts `processes` workers on `store` (already filled), says go, and times until the receiver has every event. */
async function drain(
  label: string,
  store: object,
  processes: number,
  batchSize = 1,
  events = DRAIN_EVENTS,
): Promise<DrainRun> {
  const receiver = await startReceiver()
  const workers = Array.from({ length: processes }, () =>
    start(WORKER, [JSON.stringify(store), receiver.url, String(CONCURRENCY), String(batchSize)]),
  )
  try {
    await Promise.all(workers.map((w) => w.next('ready')))
    const before = cpuSnapshot()
    const t0 = performance.now()
    for (const w of workers) w.stdin.write('go\n')
    await receiver.waitFor(events, 180_000)
    const seconds = (performance.now() - t0) / 1000
    const after = cpuSnapshot()
    for (const w of workers) w.kill('SIGTERM')
    const cpu = await Promise.all(workers.map((w) => w.next('cpu ')))
    const workerCpuS = cpu.reduce((sum, line) => sum + Number(line.slice(4)), 0) / 1000
    const run: DrainRun = {
      label,
      processes,
      seconds,
      events,
      rate: events / seconds,
      machineBusy: (after.busyMs - before.busyMs) / (after.totalMs - before.totalMs),
      workerCpuS,
      postgresCpuS: postgresCpuSince(before, after) / 1000,
      busyCpuS: (after.busyMs - before.busyMs) / 1000,
    }
    console.log(
      `${label}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(run.rate)}/s ` +
        `(machine CPU busy ${(run.machineBusy * 100).toFixed(0)}%, workers ${workerCpuS.toFixed(1)} s, PostgreSQL ${run.postgresCpuS.toFixed(1)} s)`,
    )
    return run
  } finally {
    // A worker writes its profile as it exits: give it the time (BENCH_PROFILE_DIR).
    if (process.env.BENCH_PROFILE_DIR) await Promise.all(workers.map(exited))
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL')
    receiver.stop()
  }
}

/** `processes` processes each commit ENQUEUE_EVENTS events in groups at the same moment; events/s over the slowest. */
async function enqueueFrom(
  url: string,
  schema: string,
  processes: number,
): Promise<{ rate: number; machineBusy: number; postgresUs: number }> {
  const children = Array.from({ length: processes }, (_, p) =>
    start(ENQUEUER, [
      url,
      schema,
      String(ENQUEUE_EVENTS),
      String(ENQUEUE_GROUP),
      String(p * ENQUEUE_EVENTS),
    ]),
  )
  try {
    await Promise.all(children.map((c) => c.next('ready')))
    const before = cpuSnapshot()
    const t0 = performance.now()
    for (const c of children) c.stdin.write('go\n')
    await Promise.all(children.map((c) => c.next('done ')))
    const seconds = (performance.now() - t0) / 1000
    const after = cpuSnapshot()
    const events = processes * ENQUEUE_EVENTS
    const rate = events / seconds
    const machineBusy = (after.busyMs - before.busyMs) / (after.totalMs - before.totalMs)
    const postgresUs = (postgresCpuSince(before, after) * 1000) / events
    console.log(
      `enqueue from ${processes} process(es), groups of ${ENQUEUE_GROUP}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(rate)}/s ` +
        `(machine CPU busy ${(machineBusy * 100).toFixed(0)}%, PostgreSQL ${postgresUs.toFixed(0)} µs/event)`,
    )
    return { rate, machineBusy, postgresUs }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  }
}

/**
 * Runs the PostgreSQL bench and prints a Markdown table. Returns its rows, or
 * `null` (with a notice) when `DATABASE_URL` is not set.
 *
 * @example
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/postgres.ts
 */
export async function runPostgresBench(): Promise<string[][] | null> {
  const url = process.env.DATABASE_URL
  if (!url) {
    console.warn('PostgreSQL bench skipped: DATABASE_URL is not set')
    return null
  }
  const schemas: string[] = []
  const dir = mkdtempSync(join(tmpdir(), 'aw-pg-bench-'))
  const items = backlog(DRAIN_EVENTS)
  try {
    const fresh = () => {
      const schema = uniqueSchemaName('aw_bench')
      schemas.push(schema)
      return schema
    }
    const runs: DrainRun[] = []
    for (const processes of [1, 2, 4]) {
      const schema = fresh()
      await fill(new PostgresQueueStore({ connectionString: url, schema }), items)
      await analyze(url, schema)
      runs.push(
        await drain(
          `PostgreSQL, ${processes} worker process(es)`,
          { postgres: { connectionString: url, schema } },
          processes,
        ),
      )
    }
    const path = join(dir, 'queue.sqlite')
    await fill(new SqliteQueueStore({ path }), items)
    runs.push(await drain('SQLite, 1 process', { sqlite: { path } }, 1))

    // The same drain with batchSize 100: one request per 100 events.
    const batched: DrainRun[] = []
    const batchedSchema = fresh()
    const many = backlog(BATCHED_EVENTS)
    await fill(new PostgresQueueStore({ connectionString: url, schema: batchedSchema }), many)
    await analyze(url, batchedSchema)
    batched.push(
      await drain(
        `PostgreSQL, 1 worker process, batchSize ${BATCH_SIZE}`,
        { postgres: { connectionString: url, schema: batchedSchema } },
        1,
        BATCH_SIZE,
        BATCHED_EVENTS,
      ),
    )
    const batchedPath = join(dir, 'batched.sqlite')
    await fill(new SqliteQueueStore({ path: batchedPath }), many)
    batched.push(
      await drain(
        `SQLite, 1 process, batchSize ${BATCH_SIZE}`,
        { sqlite: { path: batchedPath } },
        1,
        BATCH_SIZE,
        BATCHED_EVENTS,
      ),
    )

    const [enqueue1, enqueue4] = [
      await enqueueFrom(url, fresh(), 1),
      await enqueueFrom(url, fresh(), 4),
    ] as const

    const [one, two, four, sqlite] = runs as [DrainRun, DrainRun, DrainRun, DrainRun]
    const [pgBatched, sqliteBatched] = batched as [DrainRun, DrainRun]
    const rows = [
      [
        'run',
        'events/s',
        'ratio',
        'machine CPU busy',
        'CPU µs/event: workers',
        'PostgreSQL',
        'cores used: workers / PostgreSQL / rest',
      ],
      ...runs.map((r) => [
        r.label,
        fmt(r.rate),
        `${(r.rate / one.rate).toFixed(2)}x`,
        `${(r.machineBusy * 100).toFixed(0)}%`,
        perEvent(r.workerCpuS, r.events),
        perEvent(r.postgresCpuS, r.events),
        [r.workerCpuS, r.postgresCpuS, r.busyCpuS - r.workerCpuS - r.postgresCpuS]
          .map((cpuS) => (Math.max(0, cpuS) / r.seconds).toFixed(2))
          .join(' / '),
      ]),
      ...batched.map((r) => [
        r.label,
        fmt(r.rate),
        `${(r.rate / pgBatched.rate).toFixed(2)}x`,
        `${(r.machineBusy * 100).toFixed(0)}%`,
        perEvent(r.workerCpuS, r.events),
        perEvent(r.postgresCpuS, r.events, 1),
        [r.workerCpuS, r.postgresCpuS, r.busyCpuS - r.workerCpuS - r.postgresCpuS]
          .map((cpuS) => (Math.max(0, cpuS) / r.seconds).toFixed(2))
          .join(' / '),
      ]),
      ...[enqueue1, enqueue4].map((e, i) => [
        i === 0 ? 'enqueue, 1 process' : 'enqueue, 4 processes at once',
        fmt(e.rate),
        `${(e.rate / enqueue1.rate).toFixed(2)}x`,
        `${(e.machineBusy * 100).toFixed(0)}%`,
        '',
        e.postgresUs.toFixed(0),
        '',
      ]),
    ]
    console.log(
      `\nDrain of ${fmt(DRAIN_EVENTS)} events (batched runs: ${fmt(BATCHED_EVENTS)}), concurrency ${CONCURRENCY} per process, ${cpus().length} CPU cores; ` +
        `ratios against 1 PostgreSQL worker (batched runs: against the batched PostgreSQL run); "rest" is the receiver, this bench and whatever else runs on the machine:\n`,
    )
    console.log(markdown(rows))
    const cpuPerEvent = (r: DrainRun) => ((r.workerCpuS + r.postgresCpuS) * 1e6) / r.events
    console.log(
      `\n4 workers / 1 worker: ${(four.rate / one.rate).toFixed(2)}x (goal >= 2.5); 2 / 1: ${(two.rate / one.rate).toFixed(2)}x; ` +
        `SQLite in one process / PostgreSQL 1 worker: ${(sqlite.rate / one.rate).toFixed(2)}x`,
    )
    console.log(
      `PostgreSQL CPU per delivered event: ${perEvent(one.postgresCpuS, one.events, 1)} µs unbatched (goal <= 10), ` +
        `${perEvent(pgBatched.postgresCpuS, pgBatched.events, 1)} µs at batchSize ${BATCH_SIZE} (goal <= 3); ` +
        `1 PostgreSQL worker / SQLite: ${(one.rate / sqlite.rate).toFixed(2)} unbatched (goal >= 0.8), ` +
        `${(pgBatched.rate / sqliteBatched.rate).toFixed(2)} batched`,
    )
    console.log(
      `CPU per delivered event (workers + PostgreSQL): 1 worker ${cpuPerEvent(one).toFixed(0)} µs, 4 workers ${cpuPerEvent(four).toFixed(0)} µs; ` +
        `machine busy ${(one.machineBusy * 100).toFixed(0)}% → ${(four.machineBusy * 100).toFixed(0)}% of ${cpus().length} cores`,
    )
    return rows
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await dropSchemas(url, schemas)
  }
}

/** Fresh statistics after the bulk load, as autovacuum would give a long-running queue. */
async function analyze(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`ANALYZE "${schema}".deliveries, "${schema}".delivery_blocks`)
  } finally {
    await client.end()
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const perEvent = (cpuS: number, events: number, digits = 0) =>
  Math.max(0, (cpuS * 1e6) / events).toFixed(digits)

function markdown(rows: string[][]): string {
  const [head, ...body] = rows as [string[], ...string[][]]
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = performance.now()
  await runPostgresBench()
  console.log(`\n(PostgreSQL bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`)
}
