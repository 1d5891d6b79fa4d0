/** Real Chromium for end-to-end tests: where it is, how to launch it here, and the skip-or-fail rule when it is missing. */

import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'
import { describe, it } from 'vitest'

/** Debian's Chromium (`apt-get install -y chromium`), or `CHROMIUM_PATH`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Whether the browser is installed on this machine. */
export const chromiumAvailable = existsSync(CHROMIUM_PATH)

// Headless as root, and quiet: without the background-networking flags Chromium tries
// Google's hosts at start, which this machine's closed network refuses.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Launches headless Chromium with the flags this machine needs, plus `extraArgs`.
 *
 * @example
 * const browser = await launchChromium(['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'])
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...ARGS, ...extraArgs] })
}

/**
 * `describe` for tests that need Chromium. Without it the block is skipped
 * with a printed notice, except under `CI=true`, where a failing test takes its
 * place, so CI cannot pass without running them.
 *
 * @example
 * describeChromium('the inspector page', () => { it('shows a delivery', async () => { … }) })
 */
export function describeChromium(name: string, body: () => void): void {
  if (chromiumAvailable) {
    describe(name, body)
    return
  }
  const notice = `Chromium not found at ${CHROMIUM_PATH}: "${name}" is skipped (apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`${notice}; CI=true requires it`)
      })
    })
    return
  }
  console.warn(notice)
  describe.skip(name, body)
}
