/** A full disk: commits fail (nothing acknowledged is lost), and once space returns the queue resumes by itself and delivers everything. */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Analytics } from '@segment/analytics-node'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { offlineAnalytics } from './fixtures/acknowledged-tracking.js'

/** Mounts a tmpfs of `size` at a fresh directory, or says why it cannot (not root, no mount). */
function smallDisk(size: string): { dir: string; unmount(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'aw-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    return (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error)
  }
  let mounted = true
  return {
    dir,
    unmount: () => {
      if (!mounted) return
      mounted = false
      execFileSync('umount', ['-l', dir])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Tracks one event; resolves whether analytics-node reported it committed (no error). */
function track(analytics: Analytics, messageId: string, pad: string): Promise<boolean> {
  return new Promise((resolve) =>
    analytics.track({ userId: 'u1', event: 'E', messageId, properties: { pad } }, (error) =>
      resolve(!error),
    ),
  )
}

const disk = smallDisk('4m')
const reason = typeof disk === 'string' ? disk : undefined
if (reason) console.warn(`disk-full test skipped: cannot mount a tmpfs here (${reason})`)

describe.skipIf(reason !== undefined && process.env.CI !== 'true')('a full disk', () => {
  let receiver: Receiver | undefined
  beforeEach(() => {
    if (reason) throw new Error(`CI=true needs a tmpfs for this test: ${reason}`)
  })
  afterEach(async () => {
    await receiver?.close()
  })
  // Also when no test ran (filtered out): the mount is made when this file loads.
  afterAll(() => {
    if (typeof disk !== 'string') disk.unmount()
  })

  it('commits fail while it is full; once space returns the queue resumes by itself, and every acknowledged event is delivered', {
    timeout: 90_000,
  }, async () => {
    const { dir } = disk as { dir: string }
    // Space to give back later: the only other file on the disk.
    writeFileSync(join(dir, 'ballast'), Buffer.alloc(1024 * 1024))
    let up = false
    receiver = await startReceiver(() => (up ? { status: 200 } : { status: 503 }))
    const plugin = webhookPlugin(
      { webhooks: [receiver.url] },
      {
        store: { sqlite: { path: join(dir, 'queue.sqlite') } },
        retry: { baseDelayMs: 50, maxDelayMs: 200 },
        backoff: { baseDelayMs: 50, maxDelayMs: 200 },
        // An outcome that could not be written while the disk was full is redone when its lease ends.
        leaseMs: 2_000,
      },
    )
    const errors: Error[] = []
    plugin.on('error', (error) => errors.push(error))
    const analytics = offlineAnalytics()
    await analytics.register(plugin)
    const pad = 'x'.repeat(1000)

    // The destination is down, so the queue grows until the disk is full and commits fail.
    const acked: string[] = []
    let failed = 0
    // Bursts of 50 at once (analytics-node takes ~300 ms to report each event tracked alone).
    const burst = async (prefix: string, from: number, size = 50): Promise<void> => {
      const ids = Array.from({ length: size }, (_, k) => `${prefix}-${from + k}`)
      const committed = await Promise.all(ids.map((id) => track(analytics, id, pad)))
      ids.forEach((id, k) => {
        if (committed[k]) acked.push(id)
        else failed++
      })
    }
    for (let i = 0; i < 10_000 && failed < 20; i += 50) await burst('full', i)
    expect(failed).toBeGreaterThanOrEqual(20)
    // The error names the file and what went wrong.
    const commitFailed = errors.find((e) => (e as { code?: string }).code === 'commit_failed')
    expect(commitFailed?.message).toContain(`the SQLite queue at ${join(dir, 'queue.sqlite')}`)
    expect(commitFailed?.message).toMatch(/full/i)
    // So does every error the delivery worker met meanwhile (outcomes it could not write).
    const path = join(dir, 'queue.sqlite')
    const fromWorker = errors.filter((e) => (e as { code?: string }).code !== 'commit_failed')
    expect(fromWorker.length).toBeGreaterThan(0)
    for (const error of fromWorker) {
      expect(error).toMatchObject({ code: 'store_unavailable' })
      expect(error.message).toContain(`Delivery could not use the SQLite queue at ${path}: `)
    }

    // Space returns, the destination recovers: new events commit again, with nothing done by hand.
    rmSync(join(dir, 'ballast'))
    up = true
    const failedWhileFull = failed
    await burst('after', 0)
    expect(failed).toBe(failedWhileFull)

    expect(await plugin.drain({ timeoutMs: 30_000 })).toEqual({ drained: true, remaining: 0 })
    const delivered = new Set(
      receiver.requests
        .filter((r) => up && r.body.length > 0)
        .map((r) => (JSON.parse(r.body) as { messageId: string }).messageId),
    )
    expect(acked.filter((id) => !delivered.has(id))).toEqual([])
    await plugin.close()
    await analytics.closeAndFlush()
  })
})
