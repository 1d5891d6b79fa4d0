/** Settings every package's vitest config starts from: tests beside the code, and a JSON report CI sums. */

import { defineConfig } from 'vitest/config'

export const sharedTestConfig = defineConfig({
  test: {
    include: ['src/**/__tests__/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
