/** Polling for the Chromium tests: what a page reports arrives a little later than the request that caused it. */

/**
 * Polls until `check` passes (does not throw) or `timeoutMs` runs out, then
 * throws its last error.
 *
 * @example
 * await eventually(() => expect(harness.reports).toHaveLength(1))
 */
export async function eventually(
  check: () => void | Promise<void>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      await check()
      return
    } catch (error) {
      if (Date.now() > end) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
