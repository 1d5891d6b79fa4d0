// Measures signing throughput against raw HMAC on the same bodies, and prints the ratio (goal >= 0.9).

import { createHmac, webcrypto } from 'node:crypto'
import { assembleBatch, singleBody, type WebhookBody } from '../src/body.js'
import { signatureHeadersSync } from '../src/node.js'
import { encodeEvent } from '../src/payload.js'
import { decodeStandardSecret } from '../src/secret.js'
import { type SigningSettings, signatureHeaders, toHex } from '../src/signing.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 30)
const WARMUP_MS = 300
const GOAL = 0.9

const CLASSIC_SECRET = 'a-shared-secret-of-reasonable-length'
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const CONTEXT = { id: 'msg_2Jh1kq9w0Vn3', timestamp: 1_700_000_000 }

function trackEvent(i: number, extraProperties: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: 'Order Completed',
    userId: `user-${i}`,
    anonymousId: '8c2b1a7e-4d3f-4e9a-b1c2-3d4e5f6a7b8c',
    messageId: `ajs-next-1700000000000-${i}`,
    properties: { orderId: `o-${i}`, revenue: 39.95, currency: 'EUR', ...extraProperties },
    context: { library: { name: 'analytics-node', version: '2.1.0' }, ip: '203.0.113.7' },
    timestamp: new Date(1_700_000_000_000 + i),
  }
}

function bodies(): Array<{ name: string; body: WebhookBody }> {
  const small = singleBody(encodeEvent(trackEvent(0)))
  const products = Array.from({ length: 30 }, (_, i) => ({
    sku: `SKU-${i}-ÉTÉ`,
    name: `Product ${i} — édition 👋`,
    price: 9.99 + i,
    quantity: 1 + (i % 3),
    category: 'Apparel/Outerwear',
  }))
  const medium = singleBody(encodeEvent(trackEvent(1, { products })))
  const batch = assembleBatch(
    Array.from({ length: 100 }, (_, i) => encodeEvent(trackEvent(i))),
    { maxEvents: 100 },
  ).body
  return [
    { name: `event ${Buffer.byteLength(small.json)} B`, body: small },
    { name: `event ${(Buffer.byteLength(medium.json) / 1024).toFixed(1)} KB`, body: medium },
    {
      name: `batch of ${batch.count} (${Math.round(Buffer.byteLength(batch.json) / 1024)} KB)`,
      body: batch,
    },
  ]
}

/**
 * CPU milliseconds this process has used (all threads: WebCrypto signs on the
 * libuv pool). Timing CPU rather than the wall clock keeps the numbers steady
 * while other processes share the machine.
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Runs `fn` for about `ms` CPU milliseconds and returns operations per CPU second. */
function opsPerSecond(fn: () => unknown, ms: number): number {
  let ops = 0
  let chunk = 16
  const start = cpuMs()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < chunk; i++) sink(fn())
    ops += chunk
    elapsed = cpuMs() - start
    if (elapsed < ms / 20) chunk *= 2
  }
  return (ops / elapsed) * 1000
}

async function opsPerSecondAsync(fn: () => Promise<unknown>, ms: number): Promise<number> {
  let ops = 0
  const start = cpuMs()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < 16; i++) sink(await fn())
    ops += 16
    elapsed = cpuMs() - start
  }
  return (ops / elapsed) * 1000
}

let checksum = 0
function sink(value: unknown): void {
  checksum += typeof value === 'string' ? value.length : value === undefined ? 0 : 1
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

interface Row {
  path: string
  scheme: string
  body: string
  ours: number
  raw: number
  ratio: number
}

/**
 * Alternates short slices of ours and raw (ABBA order) so that load from other
 * processes hits both alike; reports the median ops/s of each and the median of
 * the per-round ratios, which is the robust number on a shared machine.
 */
async function compare(
  ours: () => unknown | Promise<unknown>,
  raw: () => unknown | Promise<unknown>,
  isAsync: boolean,
): Promise<{ ours: number; raw: number; ratio: number }> {
  const run = (fn: () => unknown | Promise<unknown>, ms: number) =>
    isAsync
      ? opsPerSecondAsync(fn as () => Promise<unknown>, ms)
      : Promise.resolve(opsPerSecond(fn, ms))
  await run(ours, WARMUP_MS)
  await run(raw, WARMUP_MS)
  const a: number[] = []
  const b: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    let x: number
    let y: number
    if (round % 2 === 0) {
      x = await run(ours, ROUND_MS)
      y = await run(raw, ROUND_MS)
    } else {
      y = await run(raw, ROUND_MS)
      x = await run(ours, ROUND_MS)
    }
    a.push(x)
    b.push(y)
    ratios.push(x / y)
  }
  return { ours: median(a), raw: median(b), ratio: median(ratios) }
}

async function main(): Promise<void> {
  const rows: Row[] = []
  const standardKey = decodeStandardSecret(STANDARD_SECRET) as Uint8Array
  const subtle = webcrypto.subtle
  const sha1Key = await subtle.importKey(
    'raw',
    new TextEncoder().encode(CLASSIC_SECRET),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  )
  const sha256Key = await subtle.importKey(
    'raw',
    standardKey as Uint8Array<ArrayBuffer>,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const encoder = new TextEncoder()
  const classic: SigningSettings = { sharedSecret: CLASSIC_SECRET, signature: 'classic' }
  const standard: SigningSettings = { sharedSecret: STANDARD_SECRET, signature: 'standard' }

  for (const { name, body } of bodies()) {
    const standardText = `${CONTEXT.id}.${CONTEXT.timestamp}.${body.json}`
    // Raw baselines get the best case: the key already decoded/imported, the text already built.
    const cases = [
      {
        path: 'node:crypto',
        scheme: 'classic',
        ours: () => signatureHeadersSync(classic, body, CONTEXT),
        raw: () => createHmac('sha1', CLASSIC_SECRET).update(body.firstEventJson).digest('hex'),
        isAsync: false,
      },
      {
        path: 'node:crypto',
        scheme: 'standard',
        ours: () => signatureHeadersSync(standard, body, CONTEXT),
        raw: () =>
          createHmac('sha256', standardKey)
            .update(`${CONTEXT.id}.${CONTEXT.timestamp}.${body.json}`)
            .digest('base64'),
        isAsync: false,
      },
      {
        path: 'WebCrypto',
        scheme: 'classic',
        ours: () => signatureHeaders(classic, body, CONTEXT),
        raw: async () =>
          toHex(
            new Uint8Array(await subtle.sign('HMAC', sha1Key, encoder.encode(body.firstEventJson))),
          ),
        isAsync: true,
      },
      {
        path: 'WebCrypto',
        scheme: 'standard',
        ours: () => signatureHeaders(standard, body, CONTEXT),
        raw: async () =>
          Buffer.from(await subtle.sign('HMAC', sha256Key, encoder.encode(standardText))).toString(
            'base64',
          ),
        isAsync: true,
      },
    ]
    for (const c of cases) {
      const result = await compare(c.ours, c.raw, c.isAsync)
      rows.push({ path: c.path, scheme: c.scheme, body: name, ...result })
      process.stderr.write('.')
    }
  }
  process.stderr.write('\n')

  const format = (n: number) => Math.round(n).toLocaleString('en-US')
  const lines = [
    '| path | scheme | body | ours (ops/s) | raw HMAC (ops/s) | ratio ours/raw |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${r.scheme} | ${r.body} | ${format(r.ours)} | ${format(r.raw)} | ${r.ratio.toFixed(2)} |`,
    ),
  ]
  console.log(
    `\n@analytics-webhooks/core signing bench (${ROUNDS} alternating rounds of ${ROUND_MS} ms CPU time each; ops per CPU second, medians; ratio = median of per-round ratios; Node ${process.version})\n`,
  )
  console.log(lines.join('\n'))
  const sync = rows.filter((r) => r.path === 'node:crypto')
  const worst = Math.min(...sync.map((r) => r.ratio))
  console.log(
    `\nsignatureHeadersSync vs raw createHmac: worst ratio ${worst.toFixed(2)} (goal >= ${GOAL}) ${worst >= GOAL ? 'OK' : 'BELOW GOAL'}`,
  )
  console.log('WebCrypto rows are for information (no goal).')
  if (checksum === 0) console.log('(checksum 0: nothing was measured)')
}

await main()
