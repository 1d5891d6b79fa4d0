/** Bench plumbing: receivers in child processes, counting, timing, sizes from the environment. */

import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { request } from 'undici'

/** A receiver process and its URL. */
export interface BenchReceiver {
  readonly origin: string
  readonly url: string
  count(): Promise<number>
  waitFor(events: number, timeoutMs?: number): Promise<void>
  stop(): void
}

/** Starts `bench/receiver.ts` in its own process, answering `status`. */
export async function startReceiver(status = 200): Promise<BenchReceiver> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'receiver.ts'), String(status)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)))
  })
  const origin = `http://127.0.0.1:${port}`
  const count = async () => Number(await (await request(`${origin}/count`)).body.text())
  return {
    origin,
    url: `${origin}/hook`,
    count,
    async waitFor(events, timeoutMs = 600_000) {
      const until = Date.now() + timeoutMs
      while ((await count()) < events) {
        if (Date.now() > until) throw new Error(`receiver got ${await count()} of ${events} events`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
    stop: () => child.kill(),
  }
}

/** A whole number from the environment, or the default. */
export function size(name: string, fallback: number): number {
  const raw = process.env[name]
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number`)
  return n
}

/** A serialised track event of a realistic size (~450 bytes). */
export function sampleEvent(i: number): Record<string, unknown> {
  return {
    userId: `user-${i % 1000}`,
    event: 'Order Completed',
    messageId: `bench-${i}`,
    properties: {
      orderId: `o-${i}`,
      revenue: 39.95,
      currency: 'USD',
      products: [{ sku: 'sku-1', qty: 2 }],
    },
    context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench' },
  }
}

/** Milliseconds since `start`. */
export function since(start: number): number {
  return performance.now() - start
}

/** The value at quantile `q` of sorted numbers. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}
