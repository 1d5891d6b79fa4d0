// Tests the one coded error base (issue 14): every error core raises is a WebhookError with a stable code.

import { describe, expect, it } from 'vitest'
import { asError, PayloadError, SettingsError, WebhookError } from '../errors.js'
import { encodeEvent } from '../payload.js'
import { parseSettings } from '../settings.js'

/** What `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}

describe('WebhookError: one base with a stable code', () => {
  it("carries its code, message, cause and its subclass's name", () => {
    class StoreError extends WebhookError<'store_closed' | 'store_full'> {
      override readonly name = 'StoreError'
    }
    const cause = new Error('disk full')
    const error = new StoreError('store_closed', 'The store is closed', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(WebhookError)
    expect(error).toBeInstanceOf(StoreError)
    expect(error).toMatchObject({ name: 'StoreError', code: 'store_closed', cause })
    expect(error.message).toBe('The store is closed')
    expect(String(error)).toBe('StoreError: The store is closed')
  })

  it("is the base of core's SettingsError and PayloadError, which keep their own name and instanceof", () => {
    const settings = thrown(() => parseSettings({ webhooks: [], sharedSecret: 'hunter2-secret' }))
    expect(settings).toBeInstanceOf(WebhookError)
    expect(settings).toBeInstanceOf(SettingsError)
    expect(settings).not.toBeInstanceOf(PayloadError)
    expect(settings).toMatchObject({ name: 'SettingsError', code: 'too_few', field: 'webhooks' })
    expect((settings as Error).message).not.toContain('hunter2-secret')

    const circular: Record<string, unknown> = {}
    circular.self = circular
    const payload = thrown(() => encodeEvent({ type: 'track', properties: circular }))
    expect(payload).toBeInstanceOf(WebhookError)
    expect(payload).toBeInstanceOf(PayloadError)
    expect(payload).not.toBeInstanceOf(SettingsError)
    expect(payload).toMatchObject({ name: 'PayloadError', code: 'unserializable' })
  })

  it('is not fooled by plain errors and values', () => {
    for (const value of [
      new Error('x'),
      { code: 'too_few' },
      null,
      undefined,
      'WebhookError',
      42,
    ]) {
      expect(value instanceof WebhookError).toBe(false)
    }
  })
})

describe('asError', () => {
  it('keeps an Error as it is and wraps anything else', () => {
    const error = new TypeError('bad')
    expect(asError(error)).toBe(error)
    expect(asError('boom')).toMatchObject({ name: 'Error', message: 'boom' })
    expect(asError(undefined).message).toBe('undefined')
    expect(asError({ code: 'X' })).toBeInstanceOf(Error)
  })
})
