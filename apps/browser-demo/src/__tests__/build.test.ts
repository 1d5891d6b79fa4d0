/** The demo page builds with Vite: analytics-next and the browser plugin bundle into a static page. */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const outDir = mkdtempSync(join(tmpdir(), 'browser-demo-'))

afterAll(() => rmSync(outDir, { recursive: true, force: true }))

describe('vite build', () => {
  it('produces the page and one bundle with analytics-next and the webhook plugin', async () => {
    await build({ root, logLevel: 'silent', build: { outDir, emptyOutDir: true } })
    const html = readFileSync(join(outDir, 'index.html'), 'utf8')
    expect(html).toContain('Browser webhooks demo')
    const scripts = readdirSync(join(outDir, 'assets')).filter((name) => name.endsWith('.js'))
    const code = scripts
      .map((name) => readFileSync(join(outDir, 'assets', name), 'utf8'))
      .join('\n')
    expect(code).toContain('browser-demo') // the write key: our entry is in the bundle
    expect(code).toContain('analytics-webhooks') // the plugin's storage key prefix
    expect(code).toContain('127.0.0.1:4000/hooks')
  })
})
