import { mergeConfig } from 'vitest/config'
import { sharedTestConfig } from '../../vitest.shared'

export default mergeConfig(sharedTestConfig, {
  // Without DATABASE_URL, a throwaway PostgreSQL for the PostgreSQL suites.
  test: { globalSetup: ['test/throwaway-postgres.ts'] },
})
