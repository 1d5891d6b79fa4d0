/** The example service's Prometheus endpoint, as a user runs it (`node dist/main.js --metrics-port 0`): after the deliveries, a scrape shows the plugin's metrics. */

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInspector, type Inspector } from '@analytics-webhooks/inspector'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url))
const SECRET = 'node-sender-metrics-secret'
let dir: string
let inspector: Inspector | undefined
let child: ChildProcess | undefined

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build)`)
})

afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  child = undefined
  await inspector?.close()
  inspector = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** Resolves with the first line of `proc`'s output that matches `pattern`, or rejects if it exits first. */
function lineMatching(proc: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let output = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const match = output.match(pattern)
      if (match) resolve(match)
    })
    proc.once('exit', (code) => reject(new Error(`exited ${code} before ${pattern}:\n${output}`)))
  })
}

describe('--metrics-port', () => {
  it('serves the plugin’s OpenTelemetry metrics for Prometheus: request durations and deliveries by outcome', async () => {
    dir = mkdtempSync(join(tmpdir(), 'node-sender-metrics-'))
    inspector = await createInspector({ port: 0, secret: SECRET })
    const proc = spawn(
      process.execPath,
      [
        MAIN,
        '--url',
        inspector.hooksUrl,
        '--segment-host',
        inspector.url,
        '--db',
        join(dir, 'queue.sqlite'),
        '--metrics-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WEBHOOK_SECRET: SECRET } },
    )
    child = proc
    const [, url] = await lineMatching(proc, /Serving metrics at (\S+) until Ctrl-C/)
    const response = await fetch(url as string)
    expect(response.status).toBe(200)
    const text = await response.text()

    // The HTTP client conventions' histogram, in seconds, one series per status code.
    expect(text).toMatch(/^# TYPE http_client_request_duration_seconds histogram$/m)
    expect(text).toMatch(
      /^http_client_request_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*\} 7$/m,
    )
    // Seven deliveries (six event types and a delete), all delivered.
    expect(text).toMatch(/^# TYPE analytics_webhooks_deliveries_total counter$/m)
    expect(text).toMatch(
      /^analytics_webhooks_deliveries_total\{[^}]*analytics_webhooks_outcome="delivered"[^}]*\} 7$/m,
    )

    proc.kill('SIGINT')
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve))
    expect(code).toBe(0)
  })
})
