/** Durability: a process killed with SIGKILL loses no acknowledged event; the next process on the same file delivers them. */

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { KILL_SETTINGS } from './fixtures/kill-settings.js'
import { onLines } from './fixtures/lines.js'

const SENDER = join(import.meta.dirname, 'fixtures', 'sender.ts')

describe.each(KILL_SETTINGS)('SIGKILL after the hook resolved loses nothing: %s', (_, settings) => {
  let receiver: Receiver | undefined
  let dir: string | undefined
  afterEach(async () => {
    await receiver?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('every acknowledged event is delivered by the next process (receiver dedupes on messageId)', {
    timeout: 60_000,
  }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'aw-sigkill-'))
    const dbPath = join(dir, 'queue.sqlite')
    receiver = await startReceiver()
    const r = receiver
    const total = 3000
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', SENDER, dbPath, r.url, String(total), JSON.stringify(settings)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const acked = new Set<string>()
    let ready: () => void = () => undefined
    const isReady = new Promise<void>((resolve) => {
      ready = resolve
    })
    onLines(child.stdout, (line) => {
      if (line === 'ready') ready()
      else if (line.startsWith('ack ')) acked.add(line.slice(4))
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    )
    await isReady
    // Kill at a random moment while events are being tracked and delivered.
    const until = Date.now() + 5000
    const killAfter = 20 + Math.floor(Math.random() * 400)
    while (acked.size < 50 && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 5))
    await new Promise((resolve) => setTimeout(resolve, killAfter))
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const ackedAtKill = new Set(acked)
    const beforeRestart = r.requests.length

    const plugin = webhookPlugin(
      { webhooks: [r.url], ...settings },
      { store: { sqlite: { path: dbPath } }, leaseMs: 500, pollIntervalMs: 100 },
    )
    expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
    await plugin.close()

    const received = r.requests.flatMap((req) =>
      ([JSON.parse(req.body)].flat() as { messageId: string }[]).map((e) => e.messageId),
    )
    const unique = new Set(received)
    // A request sent before the kill, recorded or not, is sent again by the next process with the
    // same bytes under the same id: no webhook-id ever names two bodies, and a receiver that
    // dedupes on webhook-id processes every event exactly once.
    const bodies = new Map<string, Set<string>>()
    const processed: string[] = []
    for (const req of r.requests) {
      const id = req.headers['webhook-id']
      if (typeof id !== 'string') continue
      if (!bodies.has(id)) {
        for (const e of [JSON.parse(req.body)].flat() as { messageId: string }[])
          processed.push(e.messageId)
      }
      bodies.set(id, (bodies.get(id) ?? new Set()).add(req.body))
    }
    for (const [id, sent] of bodies) expect([id, sent.size]).toEqual([id, 1])
    const lost = [...ackedAtKill].filter((id) => !unique.has(id))
    const duplicates = received.length - unique.size
    const processedTwice = processed.length - new Set(processed).size
    console.log(
      `SIGKILL after ${killAfter} ms: acknowledged ${ackedAtKill.size}/${total}, delivered before kill ${beforeRestart}, ` +
        `lost ${lost.length}, duplicates ${duplicates}` +
        (bodies.size > 0
          ? `, processed twice by a receiver deduping on webhook-id ${processedTwice}`
          : ''),
    )
    expect(ackedAtKill.size).toBeGreaterThan(0)
    expect(lost).toEqual([])
    expect(processedTwice).toBe(0)
  })
})
