#!/usr/bin/env node
// Sums every workspace's vitest JSON report into the one plain line CI reads: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const relativeTo = (dir, file) =>
  file.startsWith('/') ? relative(join(process.cwd(), dir), file) : file

let passed = 0
let failed = 0
let skipped = 0
const missing = []
// Failed tests are listed last, so the tail of a CI log names them.
const failures = []
for (const group of ['packages', 'apps']) {
  if (!existsSync(group)) continue
  for (const name of readdirSync(group)) {
    const dir = join(group, name)
    const pkg = join(dir, 'package.json')
    if (!existsSync(pkg) || !JSON.parse(readFileSync(pkg, 'utf8')).scripts?.test) continue
    const report = join(dir, 'test-results', 'vitest.json')
    if (!existsSync(report)) {
      missing.push(dir)
      continue
    }
    const r = JSON.parse(readFileSync(report, 'utf8'))
    passed += r.numPassedTests
    failed += r.numFailedTests
    skipped += r.numPendingTests + r.numTodoTests
    console.log(
      `${dir}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`,
    )
    for (const file of r.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        if (test.status !== 'failed') continue
        failures.push(`${join(dir, relativeTo(dir, file.name))} > ${test.fullName}`)
        const first = (test.failureMessages ?? [])[0] ?? ''
        failures.push(`    ${first.split('\n').slice(0, 6).join('\n    ')}`)
      }
    }
  }
}
if (failures.length > 0) console.log(['failed tests:', ...failures].join('\n'))
for (const dir of missing) console.log(`${dir}: no test report (did its tests run?)`)
console.log(`${passed} passed, ${failed + missing.length} failed, ${skipped} skipped`)
process.exit(failed + missing.length > 0 ? 1 : 0)
