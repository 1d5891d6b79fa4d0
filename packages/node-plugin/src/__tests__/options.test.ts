/** The plugin's options (second argument): every documented option is accepted, and any other name is refused with the nearest known one. */

import { parseSettings, WebhookError } from '@analytics-webhooks/core'
import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'
import { WebhookPluginError } from '../errors.js'
import { destinationOptions, type WebhookPluginOptions } from '../options.js'
import { webhookPlugin } from '../plugin.js'

const settings = parseSettings({ webhooks: ['https://hooks.example.com/segment'] })
const KNOWN =
  'known: store, queue, concurrency, leaseMs, claimBatch, pollIntervalMs, retry, backoff, maxRequestsPerSecond, transform, sendTraceparent, dispatcher, now'

/** The error `destinationOptions` throws for `options`. */
function optionError(options: unknown): WebhookPluginError {
  try {
    destinationOptions(settings, options as WebhookPluginOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookPluginError)
    expect(error).toBeInstanceOf(WebhookError)
    expect(error).toMatchObject({ name: 'WebhookPluginError', code: 'invalid_option' })
    return error as WebhookPluginError
  }
  throw new Error(`destinationOptions accepted ${JSON.stringify(options)}`)
}

describe('options: every option the README documents is accepted', () => {
  it('takes all of them at once', () => {
    const dispatcher = new Agent()
    const now = () => 0
    const options = destinationOptions(settings, {
      store: { sqlite: { path: ':memory:' } },
      queue: 'orders',
      concurrency: 4,
      leaseMs: 30_000,
      claimBatch: 512,
      pollIntervalMs: 1_000,
      retry: { baseDelayMs: 10, maxDelayMs: 100 },
      backoff: { threshold: 5 },
      maxRequestsPerSecond: 50,
      transform: (payload) => payload,
      dispatcher,
      now,
    })
    expect(options).toMatchObject({ queue: 'orders', concurrency: 4, claimBatch: 512, now })
    void dispatcher.close()
  })

  it('takes none, or options left undefined', () => {
    expect(destinationOptions(settings, {})).toMatchObject({ queue: 'default', concurrency: 10 })
    expect(destinationOptions(settings, { leaseMs: undefined }).leaseMs).toBe(60_000)
  })
})

describe('options: an unknown option is refused, naming it and the nearest known one', () => {
  it.each([
    ['pollIntervallMs', 'pollIntervalMs'],
    ['pollInterval', 'pollIntervalMs'],
    ['concurency', 'concurrency'],
    ['Concurrency', 'concurrency'],
    ['leaseMS', 'leaseMs'],
    ['claimbatch', 'claimBatch'],
    ['queues', 'queue'],
    ['stores', 'store'],
    ['retyr', 'retry'],
    ['backof', 'backoff'],
    ['dispacher', 'dispatcher'],
  ])('%s: did you mean %s?', (key, near) => {
    expect(optionError({ [key]: 1 }).message).toBe(
      `Invalid option ${key}: unknown option, did you mean ${near}? (${KNOWN})`,
    )
  })

  it.each(['timeoutMs', 'batchSize', 'webhooks', 'sqlite', 'maxQueueEvents', 'x'])(
    '%s: no known option is close, so the message lists them',
    (key) => {
      expect(optionError({ [key]: 1 }).message).toBe(
        `Invalid option ${key}: unknown option (${KNOWN})`,
      )
    },
  )

  it('refuses an unknown option even when its value is undefined, or beside valid ones', () => {
    expect(optionError({ pollIntervallMs: undefined }).message).toContain('pollIntervallMs')
    expect(optionError({ concurrency: 4, laseMs: 1 }).message).toContain('did you mean leaseMs?')
  })

  it('refuses options that are not an object', () => {
    for (const options of [null, 5, 'fast', [1]]) {
      expect(optionError(options).message).toBe('Invalid options: must be an object')
    }
  })

  it('throws at webhookPlugin(...), before anything is opened', () => {
    expect(() =>
      webhookPlugin({ webhooks: ['https://hooks.example.com/segment'] }, {
        pollIntervallMs: 100,
      } as WebhookPluginOptions),
    ).toThrow(
      expect.objectContaining({
        code: 'invalid_option',
        message: expect.stringMatching(
          /^Invalid option pollIntervallMs: unknown option, did you mean pollIntervalMs\?/,
        ),
      }),
    )
  })
})

describe('options: an unknown name inside retry, backoff or store is refused too', () => {
  it.each([
    [{ retry: { baseDelay: 10 } }, 'retry.baseDelay', 'retry.baseDelayMs'],
    [{ backoff: { treshold: 5 } }, 'backoff.treshold', 'backoff.threshold'],
  ])('%j', (options, wrong, right) => {
    expect(optionError(options).message).toMatch(
      new RegExp(
        `^Invalid option ${wrong.replace('.', '\\.')}: unknown option, did you mean ${right.replace('.', '\\.')}\\?`,
      ),
    )
  })

  it.each([
    [{ sqlite: { pth: './q.sqlite' } }, 'store.sqlite.pth', 'store.sqlite.path'],
    [
      { postgres: { connectionString: 'postgres://u@127.0.0.1/db', shema: 'x' } },
      'store.postgres.shema',
      'store.postgres.schema',
    ],
  ])('store %j', (store, wrong, right) => {
    expect(() =>
      webhookPlugin({ webhooks: ['https://hooks.example.com/segment'] }, {
        store,
      } as WebhookPluginOptions),
    ).toThrow(
      expect.objectContaining({
        code: 'invalid_option',
        message: expect.stringContaining(
          `Invalid option ${wrong}: unknown option, did you mean ${right}?`,
        ),
      }),
    )
  })
})
