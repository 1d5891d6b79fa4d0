/** Benchmark: verifications per second, ours against raw node:crypto and the public Standard Webhooks verifiers, measured in one run. */

import { createHmac, timingSafeEqual } from 'node:crypto'
import {
  assembleBatch,
  encodeEvent,
  parseSettings,
  singleBody,
  type WebhookBody,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { verifyWebhook, verifyWebhookAsync } from '../src/index.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 200)

interface Candidate {
  name: string
  run: () => unknown
  async?: boolean
}

interface Scenario {
  scheme: 'classic' | 'standard'
  label: string
  baseline: Candidate
  others: Candidate[]
}

function event(i: number) {
  return encodeEvent({
    type: 'track',
    event: 'Order Completed',
    userId: `user-${i}`,
    messageId: `msg-${i}-${'x'.repeat(20)}`,
    timestamp: new Date(1_767_225_600_000 + i),
    properties: {
      orderId: `o-${i}`,
      revenue: 39.95,
      currency: 'EUR',
      products: [{ sku: 'A-1', qty: 2 }],
    },
    context: {
      ip: '203.0.113.9',
      library: { name: 'analytics-node', version: '2.1.0' },
      locale: 'fr-FR',
    },
  })
}

const bodies: Array<[string, WebhookBody]> = [
  ['single event', singleBody(event(0))],
  [
    'batch of 100',
    assembleBatch(
      Array.from({ length: 100 }, (_, i) => event(i)),
      { maxEvents: 100 },
    ).body,
  ],
]

function signed(body: WebhookBody, signature: 'classic' | 'standard') {
  const settings = parseSettings({
    webhooks: ['https://example.com'],
    sharedSecret: SECRET,
    signature,
  })
  const headers = signatureHeadersSync(settings, body, {
    id: 'msg_2Lh9Ks0PqS2yZ',
    timestamp: Math.floor(Date.now() / 1000),
  })
  return { bytes: Buffer.from(body.json), text: body.json, headers }
}

function scenarios(): Scenario[] {
  const list: Scenario[] = []
  const standardKey = Buffer.from(SECRET.slice(6), 'base64')
  for (const [label, body] of bodies) {
    const classic = signed(body, 'classic')
    const options = { secret: SECRET, scheme: 'classic' as const }
    const expectedClassic = classic.headers['X-Signature'] as string
    list.push({
      scheme: 'classic',
      label: `${label}, ${(classic.bytes.length / 1024).toFixed(1)} KB`,
      // A hand-written receiver: HMAC of what the signature covers, timingSafeEqual, JSON.parse.
      baseline: {
        name: 'raw node:crypto HMAC + timingSafeEqual + JSON.parse',
        run: () => {
          const signedText = body.isBatch ? body.firstEventJson : classic.bytes
          const digest = createHmac('sha1', SECRET).update(signedText).digest()
          if (!timingSafeEqual(digest, Buffer.from(expectedClassic, 'hex')))
            throw new Error('mismatch')
          return JSON.parse(classic.bytes.toString('utf8'))
        },
      },
      others: [
        {
          name: 'verifyWebhook (sync)',
          run: () => verifyWebhook(classic.bytes, classic.headers, options),
        },
        {
          name: 'verifyWebhookAsync (WebCrypto)',
          run: () => verifyWebhookAsync(classic.bytes, classic.headers, options),
          async: true,
        },
      ],
    })

    const standard = signed(body, 'standard')
    const standardOptions = { secret: SECRET, scheme: 'standard' as const }
    const h = standard.headers as Record<string, string>
    const standardLib = new StandardWebhook(SECRET)
    const svix = new SvixWebhook(SECRET)
    const expectedStandard = Buffer.from((h['webhook-signature'] as string).slice(3), 'base64')
    const octokitSignature = { value: '' }
    list.push({
      scheme: 'standard',
      label: `${label}, ${(standard.bytes.length / 1024).toFixed(1)} KB`,
      baseline: {
        name: 'raw node:crypto HMAC + timingSafeEqual + JSON.parse',
        run: () => {
          const digest = createHmac('sha256', standardKey)
            .update(`${h['webhook-id']}.${h['webhook-timestamp']}.`)
            .update(standard.bytes)
            .digest()
          if (!timingSafeEqual(digest, expectedStandard)) throw new Error('mismatch')
          return JSON.parse(standard.bytes.toString('utf8'))
        },
      },
      others: [
        {
          name: 'verifyWebhook (sync)',
          run: () => verifyWebhook(standard.bytes, h, standardOptions),
        },
        {
          name: 'verifyWebhookAsync (WebCrypto)',
          run: () => verifyWebhookAsync(standard.bytes, h, standardOptions),
          async: true,
        },
        { name: 'standardwebhooks 1.x verify', run: () => standardLib.verify(standard.text, h) },
        { name: 'svix 1.90 verify', run: () => svix.verify(standard.text, h) },
        {
          name: '@octokit/webhooks-methods verify (sha256 hex, GitHub style)',
          run: async () => {
            if (octokitSignature.value === '')
              octokitSignature.value = await octokitSign(SECRET, standard.text)
            if (!(await octokitVerify(SECRET, standard.text, octokitSignature.value)))
              throw new Error('mismatch')
            return JSON.parse(standard.text)
          },
          async: true,
        },
      ],
    })
  }
  return list
}

async function round(candidate: Candidate, ms: number): Promise<number> {
  let count = 0
  const started = performance.now()
  const deadline = started + ms
  if (candidate.async) {
    while (performance.now() < deadline) {
      for (let i = 0; i < 50; i++) await candidate.run()
      count += 50
    }
  } else {
    while (performance.now() < deadline) {
      for (let i = 0; i < 50; i++) candidate.run()
      count += 50
    }
  }
  return (count * 1000) / (performance.now() - started)
}

/**
 * Medians of interleaved rounds: every candidate of a scenario runs once per
 * round, in turn, so a busy machine slows all of them alike and the ratios hold.
 */
async function measureAll(candidates: Candidate[]): Promise<number[]> {
  for (const candidate of candidates) await round(candidate, ROUND_MS) // warm-up
  const rates: number[][] = candidates.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < candidates.length; c++) {
      rates[c]?.push(await round(candidates[c] as Candidate, ROUND_MS))
    }
  }
  return rates.map((list) => {
    list.sort((a, b) => a - b)
    return list[Math.floor(list.length / 2)] as number
  })
}

const format = (n: number) => Math.round(n).toLocaleString('en-US')

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms per implementation after a warm-up, median\n`,
  )
  const rows: string[] = [
    '| scheme | body | implementation | verifications/s | vs raw node:crypto | vs standardwebhooks |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  ]
  for (const scenario of scenarios()) {
    const candidates = [scenario.baseline, ...scenario.others]
    const rates = await measureAll(candidates)
    const baseline = rates[0] as number
    const results = candidates.map((candidate, i): [string, number] => [
      candidate.name,
      rates[i] as number,
    ])
    const reference = results.find(([name]) => name.startsWith('standardwebhooks'))?.[1]
    for (const [name, rate] of results) {
      const vsReference = reference === undefined ? '' : `${(rate / reference).toFixed(2)}x`
      rows.push(
        `| ${scenario.scheme} | ${scenario.label} | ${name} | ${format(rate)} | ${(rate / baseline).toFixed(2)}x | ${vsReference} |`,
      )
    }
  }
  console.log(rows.join('\n'))
}

await main()
