/** Measures the plugin's min+gz size with the core it uses, beside analytics-next's own bundle, and fails over budget. */

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/** The budget for `dist/index.js` bundled with core, minified and gzipped (issue 5); `SIZE_BUDGET_BYTES` overrides it. */
export const BUDGET_BYTES = Number(process.env.SIZE_BUDGET_BYTES ?? 4 * 1024)

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Sizes of one bundle, in bytes. */
export interface BundleSize {
  readonly minified: number
  readonly gzipped: number
  /** Minified bytes each source module puts in the bundle, largest first. */
  readonly modules: ReadonlyArray<readonly [string, number]>
}

/**
 * Bundles `source` (an ES module's text, resolved from this package) for
 * browsers with esbuild, minifies it and gzips it with node:zlib at level 9.
 *
 * @example
 * await measure("export * from './dist/index.js'") // { minified: 9312, gzipped: 3870, modules: [...] }
 */
export async function measure(source: string, external: string[] = []): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: source, resolveDir: packageDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external,
    metafile: true,
    outdir: 'out',
  })
  const code = (result.outputFiles[0] as { contents: Uint8Array }).contents
  const modules = Object.values(result.metafile.outputs)
    .flatMap((output) => Object.entries(output.inputs))
    .map(([module, { bytesInOutput }]) => [module, bytesInOutput] as const)
    .filter(([, bytes]) => bytes > 0)
    .sort((a, b) => b[1] - a[1])
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, modules }
}

/** The gzipped size of analytics-next's shipped UMD bundle (`dist/umd/index.js`), its own size-limit target. */
function analyticsNextShipped(): BundleSize {
  const require = createRequire(join(packageDir, 'package.json'))
  const file = join(
    dirname(require.resolve('@segment/analytics-next/package.json')),
    'dist/umd/index.js',
  )
  const code = readFileSync(file)
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, modules: [] }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`

async function main(): Promise<void> {
  const plugin = await measure("export { webhookPlugin } from './dist/index.js'")
  const own = await measure("export { webhookPlugin } from './dist/index.js'", [
    '@analytics-webhooks/core',
  ])
  const rows: Array<[string, BundleSize]> = [
    ['@analytics-webhooks/browser-plugin, with the core it uses', plugin],
    ['  of which the plugin alone (core left out)', own],
    [
      '@segment/analytics-next, AnalyticsBrowser bundled the same way',
      await measure("export { AnalyticsBrowser } from '@segment/analytics-next'"),
    ],
    ['@segment/analytics-next, shipped dist/umd/index.js', analyticsNextShipped()],
  ]
  console.log('| bundle | min | min+gz |\n| --- | --- | --- |')
  for (const [name, size] of rows)
    console.log(`| ${name} | ${kb(size.minified)} | ${kb(size.gzipped)} |`)
  // `--modules`: what each module (each core file with core bundled per file) adds, to see what to cut.
  if (process.argv.includes('--modules')) {
    console.log('\nminified bytes per module in the plugin bundle:')
    for (const [module, bytes] of plugin.modules)
      console.log(`${String(bytes).padStart(6)}  ${module}`)
  }
  const share = ((plugin.gzipped / (rows.at(-1) as [string, BundleSize])[1].gzipped) * 100).toFixed(
    1,
  )
  console.log(
    `\nplugin: ${plugin.gzipped} B min+gz (${share}% of analytics-next's shipped bundle), budget ${BUDGET_BYTES} B`,
  )
  // `--report` (the bench) prints the table without enforcing the budget.
  if (plugin.gzipped > BUDGET_BYTES && !process.argv.includes('--report')) {
    console.error(`over budget by ${plugin.gzipped - BUDGET_BYTES} B`)
    process.exitCode = 1
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
