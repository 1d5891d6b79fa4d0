/** Measures what a page ships for the plugin (with the core it uses, and each lazy chunk apart), beside analytics-next, and fails over budget. */

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Metafile } from 'esbuild'

/** The budget for what every page loads: `dist/index.js` bundled with core, minified and gzipped (issue 5); `SIZE_BUDGET_BYTES` overrides it. */
export const BUDGET_BYTES = Number(process.env.SIZE_BUDGET_BYTES ?? 4 * 1024)

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Sizes of a set of files a page loads together, in bytes. */
export interface BundleSize {
  readonly minified: number
  /** Each file gzipped on its own (as a server sends it), summed. */
  readonly gzipped: number
  /** Minified bytes each source module puts in these files, largest first. */
  readonly modules: ReadonlyArray<readonly [string, number]>
}

/** What a page loads at once, and what it loads later through `import()`. */
export interface SplitSize {
  readonly initial: BundleSize
  /** The chunks only a dynamic `import()` loads (empty sizes when there are none). */
  readonly lazy: BundleSize
  /** The same, apart for each `import()`: keyed by the module it loads. */
  readonly lazyBy: ReadonlyMap<string, BundleSize>
}

/**
 * Bundles `source` (an ES module's text, resolved from this package) for
 * browsers with esbuild, minified and split into chunks, and measures the
 * chunks loaded at once apart from those a dynamic `import()` loads later.
 * Each file is gzipped with node:zlib at level 9. With `splitting: false`
 * everything lands in one file, lazy code included.
 *
 * @example
 * const { initial, lazy } = await measure("export { webhookPlugin } from './dist/index.js'")
 * initial.gzipped // bytes every page loads
 */
export async function measure(
  source: string,
  { external = [], splitting = true }: { external?: string[]; splitting?: boolean } = {},
): Promise<SplitSize> {
  const result = await build({
    stdin: { contents: source, resolveDir: packageDir, loader: 'js' },
    bundle: true,
    minify: true,
    splitting,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external,
    metafile: true,
    outdir: 'out',
  })
  const files = new Map(result.outputFiles.map((file) => [file.path, file.contents]))
  const outputs = result.metafile.outputs
  const entry = Object.keys(outputs).find((name) => outputs[name]?.entryPoint === '<stdin>')
  if (entry === undefined) throw new Error('esbuild produced no entry chunk')
  const initial = loadedWith(outputs, [entry], 'import-statement')
  const lazy = [...loadedWith(outputs, [entry], 'dynamic-import')].filter((n) => !initial.has(n))
  const sizeOf = (names: Iterable<string>): BundleSize => {
    let minified = 0
    let gzipped = 0
    const modules = new Map<string, number>()
    for (const name of names) {
      const code = files.get(resolve(name)) as Uint8Array
      minified += code.length
      gzipped += gzipSync(code, { level: 9 }).length
      for (const [module, { bytesInOutput }] of Object.entries(outputs[name]?.inputs ?? {}))
        if (bytesInOutput > 0) modules.set(module, (modules.get(module) ?? 0) + bytesInOutput)
    }
    return { minified, gzipped, modules: [...modules].sort((a, b) => b[1] - a[1]) }
  }
  const lazyBy = new Map<string, BundleSize>()
  for (const name of initial) {
    for (const imported of outputs[name]?.imports ?? []) {
      if (imported.kind !== 'dynamic-import' || imported.external) continue
      const root = outputs[imported.path]?.entryPoint ?? imported.path
      const chunks = [...loadedWith(outputs, [imported.path], 'import-statement')]
      lazyBy.set(root, sizeOf(chunks.filter((n) => !initial.has(n))))
    }
  }
  return { initial: sizeOf(initial), lazy: sizeOf(lazy), lazyBy }
}

/**
 * The chunks `roots` load: with `import-statement`, the ones loaded at once
 * (static imports, transitively); with `dynamic-import`, everything loaded at
 * once or later.
 */
function loadedWith(
  outputs: Metafile['outputs'],
  roots: string[],
  kind: 'import-statement' | 'dynamic-import',
): Set<string> {
  const seen = new Set<string>()
  const pending = [...roots]
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue
    seen.add(name)
    for (const imported of outputs[name]?.imports ?? []) {
      if (imported.external) continue
      if (imported.kind === 'import-statement' || kind === 'dynamic-import')
        pending.push(imported.path)
    }
  }
  return seen
}

/** The size of analytics-next's shipped UMD bundle (`dist/umd/index.js`), its own size-limit target. */
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
const sum = (a: BundleSize, b: BundleSize): BundleSize => ({
  minified: a.minified + b.minified,
  gzipped: a.gzipped + b.gzipped,
  modules: [],
})

async function main(): Promise<void> {
  const plugin = await measure("export { webhookPlugin } from './dist/index.js'")
  const own = await measure("export { webhookPlugin } from './dist/index.js'", {
    external: ['@analytics-webhooks/core', '@analytics-webhooks/core/*'],
  })
  const analytics = await measure("export { AnalyticsBrowser } from '@segment/analytics-next'", {
    splitting: false,
  })
  const shipped = analyticsNextShipped()
  const lazyPart = (pattern: RegExp): BundleSize => {
    const found = [...plugin.lazyBy].find(([root]) => pattern.test(root))
    if (!found) throw new Error(`no lazy chunk for ${pattern}`)
    return found[1]
  }
  const rows: Array<[string, BundleSize]> = [
    ['@analytics-webhooks/browser-plugin with the core it uses: every page', plugin.initial],
    ['  of which the plugin alone (core left out)', own.initial],
    [
      '  + signing chunk, loaded on the first request when sharedSecret is set',
      lazyPart(/\/sign-/),
    ],
    ['  + batching chunk, loaded on the first request when batchSize > 1', lazyPart(/\/batch-/)],
    [
      '  + pacing chunk, loaded on the first request when maxRequestsPerSecond is set',
      lazyPart(/\/pacing-/),
    ],
    ['  + lease lock chunk, loaded only by a browser without Web Locks', lazyPart(/\/lease-lock-/)],
    ['  = with every chunk, in all', sum(plugin.initial, plugin.lazy)],
    [
      '@segment/analytics-next, AnalyticsBrowser in one file, lazy parts included',
      analytics.initial,
    ],
    ['@segment/analytics-next, shipped dist/umd/index.js', shipped],
  ]
  console.log('| bundle | min | min+gz |\n| --- | --- | --- |')
  for (const [name, size] of rows)
    console.log(`| ${name} | ${kb(size.minified)} | ${kb(size.gzipped)} |`)
  // `--modules`: what each module puts in each part of the bundle, to see what to cut.
  if (process.argv.includes('--modules')) {
    for (const [part, size] of [
      ['every page', plugin.initial],
      ['the lazy chunks (signing, batching, pacing, lease lock)', plugin.lazy],
    ] as const) {
      console.log(`\nminified bytes per module, ${part}:`)
      for (const [module, bytes] of size.modules)
        console.log(`${String(bytes).padStart(6)}  ${module}`)
    }
  }
  const { gzipped } = plugin.initial
  const share = ((gzipped / shipped.gzipped) * 100).toFixed(1)
  console.log(
    `\nplugin: ${gzipped} B min+gz on every page (${share}% of analytics-next's shipped bundle), ` +
      `${gzipped + plugin.lazy.gzipped} B with every lazy chunk; budget ${BUDGET_BYTES} B`,
  )
  // `--report` (the bench) prints the table without enforcing the budget.
  if (gzipped > BUDGET_BYTES && !process.argv.includes('--report')) {
    console.error(`over budget by ${gzipped - BUDGET_BYTES} B`)
    process.exitCode = 1
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
