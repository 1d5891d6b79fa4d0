import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const m = async (src, external = []) => {
  const r = await build({
    stdin: { contents: src, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external,
  })
  const c = r.outputFiles[0].contents
  return [c.length, gzipSync(c, { level: 9 }).length]
}
console.log('all', await m("export { webhookPlugin } from './dist/index.js'"))
console.log(
  'own',
  await m("export { webhookPlugin } from './dist/index.js'", ['@analytics-webhooks/core']),
)
for (const x of (
  process.argv[2] ||
  'parseSettings,encodeEvent,signatureHeaders,classifyError,classifyResponse,assembleBatch,singleBody,fanOutOutcome,RetrySchedule,DestinationBackoff,utf8Length,SettingsError'
).split(','))
  console.log(x, await m(`export { ${x} } from '@analytics-webhooks/core'`))
