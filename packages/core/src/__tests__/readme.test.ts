// Runs the README's TypeScript examples against the source and checks what they print.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it, vi } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
const dir = mkdtempSync(join(tmpdir(), 'core-readme-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What each example prints, one entry per console.log, whitespace ignored. */
const expectedLogs: Array<Array<string | RegExp>> = [
  ["5000 14400000 'classic'", "'webhooks[1]' 'duplicate'"],
  [
    `'{"version":1,"type":"track","event":"Purchased an Item","userId":"019mr8mf4r","properties":{"revenue":"39.95","shippingMethod":"2-day"},"timestamp":"2012-12-02T00:30:08.276Z"}'`,
    /^'\{"type":"delete","userId":"019mr8mf4r","timestamp":"\d{4}-\d\d-\d\dT[\d:.]+Z"\}'$/,
  ],
  [
    'true',
    'false',
    'false',
    `'{"version":1,"type":"track","event":"Order Completed","timestamp":"1970-01-01T00:00:00.000Z","user_id":"u1"}'`,
  ],
  ['true', "['X-Signature','webhook-id','webhook-timestamp','webhook-signature']", '2 true'],
  ["'ajs-next-1'", "'batch_ajs-next-1_3_z7dd6fyvwf'", "'batch_ajs-next-1_3_u5kudt21jz'"],
  ['true', 'true'],
  ["'retry' 'http_5xx' 120000", "'retry' 120000", "'wait'"],
  ["'SettingsError' 'too_few'", "true 'Webhooks'"],
]

describe('README: every TypeScript example runs and prints what its comments say', () => {
  it('has the examples this test knows about', () => {
    expect(blocks).toHaveLength(expectedLogs.length)
  })

  blocks.forEach((code, i) => {
    it(`example ${i + 1}`, async () => {
      const source = code
        .replaceAll("'@analytics-webhooks/core/node'", JSON.stringify(join(root, 'src/node.ts')))
        .replaceAll("'@analytics-webhooks/core'", JSON.stringify(join(root, 'src/index.ts')))
      const file = join(dir, `example-${i + 1}.ts`)
      writeFileSync(file, `${source}\nexport {}\n`)
      const logs: string[] = []
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        logs.push(args.map((a) => inspect(a, { depth: 5 })).join(' '))
      })
      try {
        await import(file)
      } finally {
        spy.mockRestore()
      }
      const squash = (text: string) => text.replace(/\s+/g, '')
      expect(logs).toHaveLength(expectedLogs[i]?.length ?? 0)
      logs.forEach((log, j) => {
        const expected = expectedLogs[i]?.[j]
        if (expected instanceof RegExp) expect(log).toMatch(expected)
        else expect(squash(log)).toBe(squash(expected ?? ''))
      })
    })
  })
})
