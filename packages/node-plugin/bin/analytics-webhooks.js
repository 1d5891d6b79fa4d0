#!/usr/bin/env node
// The analytics-webhooks CLI: runs the built code in dist/. It lives outside dist/ so that
// npm links it at install time even in a clone of the repository, before the first build.
import('../dist/cli.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    console.error('analytics-webhooks: the package is not built yet (in a clone: npm run build)')
    process.exit(1)
  }
  throw error
})
