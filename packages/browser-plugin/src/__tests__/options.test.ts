// @vitest-environment happy-dom
/** The browser options (second argument): every documented option is accepted, and any other name is refused with the nearest known one. */

import { MIN_REQUESTS_PER_SECOND, WebhookError } from '@analytics-webhooks/core'
import { describe, expect, it } from 'vitest'
import { BrowserWebhookError } from '../errors.js'
import { type WebhookPluginOptions, webhookPlugin } from '../plugin.js'

const HOOK = 'https://hooks.example.com/segment'
const KNOWN =
  'known: storageKey, maxQueueEvents, maxQueueChars, maxRequestsPerSecond, transform, fetch'

/** The error `webhookPlugin` throws for `options`. */
function optionError(options: unknown): BrowserWebhookError {
  try {
    webhookPlugin({ webhooks: [HOOK] }, options as WebhookPluginOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(BrowserWebhookError)
    expect(error).toBeInstanceOf(WebhookError)
    expect(error).toMatchObject({ name: 'BrowserWebhookError', code: 'invalid_option' })
    return error as BrowserWebhookError
  }
  throw new Error(`webhookPlugin accepted ${JSON.stringify(options)}`)
}

describe('options: every option the README documents is accepted', () => {
  it('takes all of them at once, or none', () => {
    const options: Required<WebhookPluginOptions> = {
      storageKey: 'shop-webhooks',
      maxQueueEvents: 10,
      maxQueueChars: 10_000,
      maxRequestsPerSecond: 50,
      transform: (payload) => payload,
      fetch: async () => new Response(null, { status: 200 }),
    }
    expect(webhookPlugin({ webhooks: [HOOK] }, options).type).toBe('destination')
    expect(webhookPlugin({ webhooks: [HOOK] }, {}).type).toBe('destination')
    expect(webhookPlugin({ webhooks: [HOOK] }, { fetch: undefined }).type).toBe('destination')
  })
})

describe('options: an unknown option is refused, naming it and the nearest known one', () => {
  it.each([
    ['storagekey', 'storageKey'],
    ['storageKeys', 'storageKey'],
    ['maxQueueEvent', 'maxQueueEvents'],
    ['maxQueueChar', 'maxQueueChars'],
    ['maxQueueEvnets', 'maxQueueEvents'],
    ['fetcher', 'fetch'],
    ['maxRequestPerSecond', 'maxRequestsPerSecond'],
    ['maxRequestsPerSec', 'maxRequestsPerSecond'],
    ['transfrom', 'transform'],
  ])('%s: did you mean %s?', (key, near) => {
    expect(optionError({ [key]: 1 }).message).toBe(
      `${key}: unknown option, did you mean ${near}? (${KNOWN})`,
    )
  })

  it.each(['queue', 'store', 'pollIntervalMs', 'maxEvents', 'x'])(
    '%s: no known option is close, so the message lists them',
    (key) => {
      expect(optionError({ [key]: 1 }).message).toBe(`${key}: unknown option (${KNOWN})`)
    },
  )

  it('refuses an unknown option even when its value is undefined, or beside valid ones', () => {
    expect(optionError({ maxQueue: undefined }).message).toContain('maxQueue: unknown option')
    expect(optionError({ maxQueueEvents: 5, storagKey: 'a' }).message).toContain(
      'did you mean storageKey?',
    )
  })
})

describe('options: maxRequestsPerSecond', () => {
  it("takes any number from core's minimum up, fractions included", () => {
    for (const rate of [MIN_REQUESTS_PER_SECOND, 0.5, 1, 200, 1e6]) {
      expect(webhookPlugin({ webhooks: [HOOK] }, { maxRequestsPerSecond: rate }).type).toBe(
        'destination',
      )
    }
  })

  it.each([0, 0.09, -1, Number.NaN, Number.POSITIVE_INFINITY, '10', null])(
    'refuses %s, naming the option and the rule',
    (rate) => {
      expect(optionError({ maxRequestsPerSecond: rate }).message).toBe(
        `maxRequestsPerSecond: must be a number >= ${MIN_REQUESTS_PER_SECOND}`,
      )
    },
  )
})

describe('options: transform', () => {
  it.each(['rename', {}, null])('refuses %j: it must be a function', (transform) => {
    expect(optionError({ transform }).message).toBe('transform: must be a function')
  })
})
