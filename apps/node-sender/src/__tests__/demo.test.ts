/** `npm start`'s demo as a child process: it exits 0 with the summary line, and with --keep-open it keeps the inspector up. */

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const DEMO = fileURLToPath(new URL('../../dist/demo.js', import.meta.url))
let dir: string
let child: ChildProcess | undefined

beforeAll(() => {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build first (npm run build)`)
})

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  child = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** Starts the demo; resolves with its output once `until` matches or it exits. */
function startDemo(args: string[], until?: RegExp) {
  dir = mkdtempSync(join(tmpdir(), 'demo-'))
  const proc = spawn(process.execPath, [DEMO, '--data-dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child = proc
  let output = ''
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  return new Promise<{ output: string; code: number | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo timed out:\n${output}`)), 45_000)
    const check = (): void => {
      if (until?.test(output)) {
        clearTimeout(timer)
        resolve({ output, code: null })
      }
    }
    proc.stdout.on('data', check)
    proc.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ output, code })
    })
  })
}

describe('the demo (npm start)', () => {
  it('exits 0 after delivering every event with a verified signature, showing a retry', async () => {
    const { output, code } = await startDemo([])
    expect(output).toMatch(/Summary: delivered 7 of 7, signatures verified 7 of 7, 1 retry, 0 dead/)
    expect(output).toContain(
      `See the queue: npx analytics-webhooks ui --db ${join(dir, 'queue.sqlite')} --queue default`,
    )
    expect(output).toMatch(/↻ a delivery got 500/)
    expect(code).toBe(0)
    expect(existsSync(join(dir, 'queue.sqlite'))).toBe(true)
  })

  it('with --keep-open keeps the inspector running and prints its URL', async () => {
    const { output } = await startDemo(['--keep-open', '--port', '0'], /open (http:\/\/\S+)/)
    const url = /open (http:\/\/\S+)/.exec(output)?.[1]
    expect(url).toBeDefined()
    const page = await fetch(url as string)
    expect(page.status).toBe(200)
    const deliveries = (await (await fetch(`${url}/api/deliveries`)).json()) as unknown[]
    expect(deliveries.length).toBe(8) // 7 accepted and the one answered 500
    const exited = new Promise((resolve) => child?.once('exit', resolve))
    child?.kill('SIGINT')
    expect(await exited).toBe(0)
  })
})
