/**
 * The built package (`dist/`), as users run it, typed from the source. The
 * benches load it rather than `src/` through tsx, whose transpiled output
 * differs from the published one (it names every closure as it is created,
 * ~1.7 µs per request in the unbatched drain). Build first: `npx tsup`.
 */

import { existsSync } from 'node:fs'
import type * as NodePlugin from '../src/index.js'

const url = new URL('../dist/index.js', import.meta.url)
if (!existsSync(url)) {
  throw new Error(
    `The bench runs the built package: run \`npx tsup\` in packages/node-plugin first`,
  )
}

export const built = (await import(url.href)) as typeof NodePlugin
