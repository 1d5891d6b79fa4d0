/** Several processes on one SQLite file: every event delivered once, no locking errors, no resends, drains that end. */

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { onLines } from './fixtures/lines.js'

const SENDER = join(import.meta.dirname, 'fixtures', 'shared-file-sender.ts')
const PROCESSES = 3
const EACH = 2000

interface Outcome {
  drained: { drained: boolean; remaining: number }
  failed: number
  seconds: number
}

/** Starts one sender; resolves its `error` lines and its final outcome once it exits. */
function sender(dbPath: string, url: string, prefix: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SENDER, dbPath, url, String(EACH), prefix],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  const errors: string[] = []
  let outcome: Outcome | undefined
  let ready: () => void = () => undefined
  const isReady = new Promise<void>((resolve) => {
    ready = resolve
  })
  onLines(child.stdout, (line) => {
    if (line === 'ready') ready()
    else if (line.startsWith('error ')) errors.push(line.slice(6))
    else if (line.startsWith('{')) outcome = JSON.parse(line) as Outcome
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return {
    isReady,
    go: () => child.stdin.write('go\n'),
    done: exited.then(() => ({ errors, outcome })),
    kill: () => child.kill('SIGKILL'),
  }
}

describe('several processes on one SQLite file', () => {
  let receiver: Receiver | undefined
  let dir: string | undefined
  afterEach(async () => {
    await receiver?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it(`${PROCESSES} processes × ${EACH} events: all delivered once, no locking errors, drains within 20 s`, {
    timeout: 90_000,
  }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'aw-shared-'))
    const dbPath = join(dir, 'queue.sqlite')
    receiver = await startReceiver()
    const senders = Array.from({ length: PROCESSES }, (_, p) =>
      sender(dbPath, (receiver as Receiver).url, `p${p}`),
    )
    try {
      await Promise.all(senders.map((s) => s.isReady))
      for (const s of senders) s.go()
      const results = await Promise.all(senders.map((s) => s.done))

      const counts = new Map<string, number>()
      for (const request of receiver.requests) {
        const id = (JSON.parse(request.body) as { messageId: string }).messageId
        counts.set(id, (counts.get(id) ?? 0) + 1)
      }
      const resent = [...counts.values()].filter((n) => n > 1).length
      console.log(
        `${PROCESSES} processes on one SQLite file: delivered ${counts.size}/${PROCESSES * EACH}, ` +
          `resent ${resent}, drains ${results.map((r) => r.outcome?.seconds.toFixed(1)).join(' / ')} s, ` +
          `errors ${results.map((r) => r.errors.length).join(' / ')}` +
          (results.some((r) => r.errors.length > 0)
            ? ` (first: ${results.flatMap((r) => r.errors)[0]})`
            : ''),
      )
      for (const { errors, outcome } of results) {
        expect(errors).toEqual([])
        expect(outcome?.failed).toBe(0)
        expect(outcome?.drained).toEqual({ drained: true, remaining: 0 })
        expect(outcome?.seconds).toBeLessThan(20)
      }
      expect(counts.size).toBe(PROCESSES * EACH)
      expect(resent).toBe(0)
    } finally {
      for (const s of senders) s.kill()
    }
  })
})
