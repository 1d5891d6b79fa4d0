/** Benchmark: verifications per CPU second, ours against a raw node:crypto receiver and the public Standard Webhooks verifiers, interleaved in one run. */

import { createHmac, timingSafeEqual } from 'node:crypto'
import { parseSettings, type WebhookBody } from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { verifyWebhook, verifyWebhookAsync } from '../src/index.js'
import { prepareOptions } from '../src/options.js'
import { checkStandardSignature } from '../src/verify-node.js'
import { bodies } from './bodies.js'
import {
  type Candidate,
  measure,
  measuredSomething,
  median,
  medianRatio,
  type Rounds,
} from './measure.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 20)
const RAW = 'raw node:crypto HMAC + timingSafeEqual + JSON.parse'
const STANDARDWEBHOOKS = 'standardwebhooks 1.x verify'
const OURS = 'verifyWebhook (sync)'
const OURS_SIGNATURE_ONLY = '(analysis) verifyWebhook without JSON.parse: headers + HMAC only'
const THEIRS_SIGNATURE_ONLY = '(analysis) standardwebhooks verify, jsonParse: false'
const PARSE_ONLY = '(analysis) JSON.parse alone (after toString for a Buffer)'

interface Scenario {
  readonly scheme: 'classic' | 'standard'
  readonly label: string
  readonly candidates: readonly Candidate[]
}

function signed(body: WebhookBody, signature: 'classic' | 'standard') {
  const settings = parseSettings({
    webhooks: ['https://example.com'],
    sharedSecret: SECRET,
    signature,
  })
  const headers = signatureHeadersSync(settings, body, {
    id: 'msg_2Lh9Ks0PqS2yZ',
    timestamp: Math.floor(Date.now() / 1000),
  }) as Record<string, string>
  return { bytes: Buffer.from(body.json), text: body.json, headers }
}

function classicScenario(label: string, body: WebhookBody): Scenario {
  const { bytes, headers } = signed(body, 'classic')
  const options = { secret: SECRET, scheme: 'classic' as const }
  const expected = headers['X-Signature'] as string
  return {
    scheme: 'classic',
    label,
    candidates: [
      {
        // A hand-written receiver: HMAC of what the signature covers, timingSafeEqual, JSON.parse.
        name: RAW,
        run: () => {
          const signedText = body.isBatch ? body.firstEventJson : bytes
          const digest = createHmac('sha1', SECRET).update(signedText).digest()
          if (!timingSafeEqual(digest, Buffer.from(expected, 'hex'))) throw new Error('mismatch')
          return JSON.parse(bytes.toString('utf8'))
        },
      },
      { name: OURS, run: () => verifyWebhook(bytes, headers, options) },
      {
        name: 'verifyWebhookAsync (WebCrypto)',
        run: () => verifyWebhookAsync(bytes, headers, options),
        async: true,
      },
    ],
  }
}

/** What a receiver holds: a Buffer (express.raw, Fastify, node:http) or a string (`await request.text()`). */
type Input = 'Buffer' | 'string'

function standardScenario(label: string, body: WebhookBody, input: Input): Scenario {
  const { bytes, text, headers } = signed(body, 'standard')
  const payload = input === 'Buffer' ? bytes : text
  const options = { secret: SECRET, scheme: 'standard' as const }
  const prepared = prepareOptions(options)
  const key = Buffer.from(SECRET.slice(6), 'base64')
  const expected = Buffer.from((headers['webhook-signature'] as string).slice(3), 'base64')
  const standardLib = new StandardWebhook(SECRET)
  const svix = new SvixWebhook(SECRET)
  const octokitSignature = { value: '' }
  const candidates: Candidate[] = [
    {
      // A hand-written receiver: HMAC, timingSafeEqual, JSON.parse, nothing checked but the signature.
      name: RAW,
      run: () => {
        const digest = createHmac('sha256', key)
          .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`)
          .update(payload)
          .digest()
        if (!timingSafeEqual(digest, expected)) throw new Error('mismatch')
        return JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
      },
    },
    { name: OURS, run: () => verifyWebhook(payload, headers, options) },
    { name: STANDARDWEBHOOKS, run: () => standardLib.verify(payload, headers) },
    { name: 'svix 1.90 verify', run: () => svix.verify(payload, headers) },
  ]
  if (input === 'Buffer') {
    candidates.push(
      {
        name: 'verifyWebhookAsync (WebCrypto)',
        run: () => verifyWebhookAsync(bytes, headers, options),
        async: true,
      },
      {
        name: '@octokit/webhooks-methods verify (sha256 hex, GitHub style)',
        run: async () => {
          if (octokitSignature.value === '')
            octokitSignature.value = await octokitSign(SECRET, text)
          if (!(await octokitVerify(SECRET, text, octokitSignature.value)))
            throw new Error('mismatch')
          return JSON.parse(text)
        },
        async: true,
      },
    )
  }
  // Where the time goes: each half of a verification on its own.
  candidates.push(
    {
      name: OURS_SIGNATURE_ONLY,
      run: () => checkStandardSignature(payload, headers, prepared),
    },
    {
      name: THEIRS_SIGNATURE_ONLY,
      run: () => standardLib.verify(payload, headers, { jsonParse: false }) ?? true,
    },
    {
      name: PARSE_ONLY,
      run: () => JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')),
    },
  )
  return { scheme: 'standard', label: `${label}, ${input}`, candidates }
}

const format = (n: number) => Math.round(n).toLocaleString('en-US')

/** One line of the breakdown: time per verification, the JSON.parse share of each, and the ratios with and without it. */
function breakdownRow(label: string, rates: Rounds, at: (name: string) => number): string {
  const of = (name: string) => rates[at(name)] as number[]
  const micros = (name: string) => 1e6 / median(of(name))
  const parse = micros(PARSE_ONLY)
  const share = (name: string) => `${Math.round((100 * parse) / micros(name))}%`
  return `| ${label} | ${micros(OURS).toFixed(1)} | ${share(OURS)} | ${micros(STANDARDWEBHOOKS).toFixed(1)} | ${share(STANDARDWEBHOOKS)} | ${medianRatio(of(OURS), of(STANDARDWEBHOOKS)).toFixed(2)}x | ${medianRatio(of(PARSE_ONLY), of(STANDARDWEBHOOKS)).toFixed(2)}x | ${medianRatio(of(OURS_SIGNATURE_ONLY), of(THEIRS_SIGNATURE_ONLY)).toFixed(2)}x |`
}

async function main(): Promise<void> {
  const started = performance.now()
  const scenarios = bodies().flatMap(({ label, body }) => [
    classicScenario(label, body),
    standardScenario(label, body, 'Buffer'),
    standardScenario(label, body, 'string'),
  ])
  const breakdown = [
    '| body, input | ours µs | JSON.parse share of ours | standardwebhooks µs | JSON.parse share of theirs | ours vs standardwebhooks | ceiling: standardwebhooks vs JSON.parse alone | signature only: ours vs theirs |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const rows = [
    '| scheme | body | implementation | verifications per CPU s | vs raw node:crypto | vs standardwebhooks |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  ]
  for (const scenario of scenarios) {
    const rates = await measure(scenario.candidates, ROUNDS, ROUND_MS)
    const at = (name: string) => scenario.candidates.findIndex((c) => c.name === name)
    const reference = at(STANDARDWEBHOOKS)
    scenario.candidates.forEach((candidate, i) => {
      const own = rates[i] as number[]
      const vsRaw = medianRatio(own, rates[0] as number[]).toFixed(2)
      const vsReference =
        reference < 0 ? '' : `${medianRatio(own, rates[reference] as number[]).toFixed(2)}x`
      rows.push(
        `| ${scenario.scheme} | ${scenario.label} | ${candidate.name} | ${format(median(own))} | ${vsRaw}x | ${vsReference} |`,
      )
    })
    if (reference >= 0) breakdown.push(breakdownRow(scenario.label, rates, at))
    process.stderr.write('.')
  }
  process.stderr.write('\n')
  console.log(
    `node ${process.version}; ${ROUNDS} interleaved rounds (ABBA order) of ${ROUND_MS} ms CPU time per implementation after a warm-up; ` +
      `verifications per CPU second (process.cpuUsage), medians; ratios are medians of per-round ratios\n`,
  )
  console.log(rows.join('\n'))
  console.log(
    '\nWhere the time goes (standard scheme; µs per verification from the medians above):\n',
  )
  console.log(breakdown.join('\n'))
  if (!measuredSomething()) console.log('(nothing was measured)')
  console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s wall`)
}

await main()
