/** The `inspector` command as a child process: flags and WEBHOOK_SECRET configure it, it prints its URL, and Ctrl+C stops it cleanly. */

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { post, SECRET } from './deliveries.js'

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))
let child: ChildProcess | undefined

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function start(args: string[], env: Record<string, string> = {}): Promise<string> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`)
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child = proc
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 10_000)
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (output.includes('Press Ctrl+C')) {
        clearTimeout(timer)
        resolve(output)
      }
    })
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    proc.on('exit', () => reject(new Error(`exited early:\n${output}`)))
  })
}

describe('the inspector command', () => {
  it('verifies with WEBHOOK_SECRET, never prints it, and exits 0 on SIGINT', async () => {
    const output = await start(['--port', '0'], { WEBHOOK_SECRET: SECRET })
    const hooksUrl = /Send webhooks to: (\S+)/.exec(output)?.[1]
    expect(hooksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hooks$/)
    expect(output).toContain('Signatures: checked against the configured secret')
    expect(output).not.toContain(SECRET)
    expect((await post(hooksUrl as string, { secret: SECRET })).status).toBe(200)
    const deliveries = (await (await fetch(new URL('/api/deliveries', hooksUrl))).json()) as Array<{
      verdict: { status: string }
    }>
    expect(deliveries.map((d) => d.verdict.status)).toEqual(['verified'])
    const exited = new Promise((resolve) => child?.once('exit', resolve))
    child?.kill('SIGINT')
    expect(await exited).toBe(0)
  })

  it('answers 401 to a bad signature with --strict', async () => {
    const output = await start(['--port', '0', '--strict', '--secret', SECRET])
    const hooksUrl = /Send webhooks to: (\S+)/.exec(output)?.[1] as string
    expect((await post(hooksUrl, { secret: 'not-the-secret' })).status).toBe(401)
  })
})
