/** The example service against a real inspector on 127.0.0.1: every event type arrives signed, and retries and dead letters are reported. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInspector, type Inspector } from '@analytics-webhooks/inspector'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runSender } from '../sender.js'

const SECRET = 'node-sender-test-secret'
let dir: string
let inspector: Inspector
const lines: string[] = []

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'node-sender-'))
  lines.length = 0
})

afterEach(async () => {
  await inspector?.close()
  rmSync(dir, { recursive: true, force: true })
})

function run(secret = SECRET) {
  return runSender({
    webhookUrl: inspector.hooksUrl,
    sharedSecret: secret,
    dbPath: join(dir, 'queue.sqlite'),
    segmentHost: inspector.url,
    print: (line) => lines.push(line),
    drainTimeoutMs: 15_000,
  })
}

describe('runSender', () => {
  it('delivers one of each event type and a delete, each signed and verified', async () => {
    inspector = await createInspector({ port: 0, secret: SECRET })
    const report = await run()
    expect(report).toEqual({ queued: 7, delivered: 7, retries: 0, dead: 0, remaining: 0 })
    const deliveries = inspector.deliveries()
    expect(deliveries.flatMap((d) => d.eventTypes).sort()).toEqual([
      'alias',
      'delete',
      'group',
      'identify',
      'page',
      'screen',
      'track',
    ])
    expect(deliveries.every((d) => d.verdict.status === 'verified')).toBe(true)
    expect(deliveries.every((d) => d.headers['user-agent'] === 'Segment.io/1.0')).toBe(true)
    expect(inspector.segmentBatches()).toBeGreaterThan(0)
    expect(lines.filter((line) => line.includes('delivered:'))).toHaveLength(7)
  })

  it('reports a retry when the receiver drops the connection once, and still delivers everything', async () => {
    inspector = await createInspector({ port: 0, secret: SECRET })
    inspector.setMode({ mode: 'drop', times: 1 })
    const report = await run()
    expect(report).toMatchObject({ delivered: 7, retries: 1, dead: 0, remaining: 0 })
    expect(lines.some((line) => line.includes('↻ a delivery got'))).toBe(true)
    expect(lines.some((line) => line.includes('(retried)'))).toBe(true)
  })

  it('reports dead letters when the receiver refuses the signature (401 is permanent)', async () => {
    inspector = await createInspector({ port: 0, secret: SECRET, strict: true })
    const report = await run('a-different-secret')
    expect(report).toMatchObject({ delivered: 0, dead: 7, remaining: 0 })
    expect(lines.some((line) => line.includes('dead-lettered'))).toBe(true)
  })
})
