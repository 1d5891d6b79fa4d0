// @vitest-environment happy-dom
/** The browser options (second argument): every documented option is accepted, and any other name is refused with the nearest known one. */

import { WebhookError } from '@analytics-webhooks/core'
import { describe, expect, it } from 'vitest'
import { BrowserWebhookError } from '../errors.js'
import { type WebhookPluginOptions, webhookPlugin } from '../plugin.js'

const HOOK = 'https://hooks.example.com/segment'
const KNOWN = 'known: storageKey, maxQueueEvents, maxQueueChars, fetch'

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
