// @vitest-environment happy-dom
/** Signed requests from the page: headers a receiver can check, and the warning that a browser secret is public. */

import { createHmac } from 'node:crypto'
import type { Context } from '@segment/analytics-next'
import { Webhook } from 'standardwebhooks'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Fetch } from '../send.js'

const HOOK = 'https://hooks.example.com/segment'
const SECRET = 'dGhpcyBpcyBhIHRlc3Qgc2VjcmV0' // base64, valid for every scheme

function receiver() {
  const calls: Array<{ body: string; headers: Record<string, string> }> = []
  const fetch: Fetch = async (_, init) => {
    calls.push({ body: init.body as string, headers: init.headers as Record<string, string> })
    return new Response(null, { status: 204 })
  }
  return { fetch, calls }
}

const track = (messageId: string) =>
  ({
    event: { type: 'track', event: 'Bought', messageId, timestamp: new Date(), userId: 'ü-1' },
  }) as unknown as Context

// A fresh module per test, so the once-per-page warning starts unsent.
async function load() {
  vi.resetModules()
  return (await import('../plugin.js')).webhookPlugin
}

let warn: ReturnType<typeof vi.spyOn>
beforeEach(() => {
  localStorage.clear()
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
})
afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
})

describe('classic signature', () => {
  it("sends X-Signature = hex HMAC-SHA1 of the body, as the spec's receiver computes it", async () => {
    const webhookPlugin = await load()
    const { fetch, calls } = receiver()
    const plugin = webhookPlugin({ webhooks: [HOOK], sharedSecret: SECRET }, { fetch })
    await plugin.load({} as Context, {} as never)
    plugin.track?.(track('m-1'))
    await vi.waitFor(() => expect(calls).toHaveLength(1))
    const [{ body, headers }] = calls as [(typeof calls)[0]]
    const digest = createHmac('sha1', SECRET)
      .update(JSON.stringify(JSON.parse(body)), 'utf8')
      .digest('hex')
    expect(headers['X-Signature']).toBe(digest)
    expect(headers).not.toHaveProperty('webhook-signature')
    plugin.unload?.({} as Context, {} as never)
  })
})

describe('Standard Webhooks signature', () => {
  it('sends webhook-id (the messageId), webhook-timestamp and webhook-signature over id.timestamp.body', async () => {
    const webhookPlugin = await load()
    const { fetch, calls } = receiver()
    const plugin = webhookPlugin(
      { webhooks: [HOOK], sharedSecret: `whsec_${SECRET}`, signature: 'both' },
      { fetch },
    )
    await plugin.load({} as Context, {} as never)
    plugin.track?.(track('m-2'))
    await vi.waitFor(() => expect(calls).toHaveLength(1))
    const [{ body, headers }] = calls as [(typeof calls)[0]]
    expect(headers['webhook-id']).toBe('m-2')
    const signed = `m-2.${headers['webhook-timestamp']}.${body}`
    const expected = createHmac('sha256', Buffer.from(SECRET, 'base64'))
      .update(signed)
      .digest('base64')
    expect(headers['webhook-signature']).toBe(`v1,${expected}`)
    expect(headers['X-Signature']).toBe(
      createHmac('sha1', `whsec_${SECRET}`).update(body).digest('hex'),
    )
    plugin.unload?.({} as Context, {} as never)
  })
})

describe('an unpadded whsec_ secret, which standardwebhooks accepts', () => {
  it('is accepted, and standardwebhooks verifies what the page sends', async () => {
    const secret = 'whsec_c2VjcmV0LWtleS1mb3ItdW5wYWRkZWQ' // 23 bytes: padded base64 would end in '='
    const webhookPlugin = await load()
    const { fetch, calls } = receiver()
    const plugin = webhookPlugin(
      { webhooks: [HOOK], sharedSecret: secret, signature: 'standard' },
      { fetch },
    )
    await plugin.load({} as Context, {} as never)
    plugin.track?.(track('m-3'))
    await vi.waitFor(() => expect(calls).toHaveLength(1))
    const [{ body, headers }] = calls as [(typeof calls)[0]]
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
    plugin.unload?.({} as Context, {} as never)
  })
})

describe('a secret in a browser is public', () => {
  it('warns once per page, with its first signed request, without the secret in the message', async () => {
    const webhookPlugin = await load()
    const { fetch, calls } = receiver()
    const unsigned = webhookPlugin({ webhooks: [HOOK] }, { fetch, storageKey: 'unsigned' })
    await unsigned.load({} as Context, {} as never)
    unsigned.track?.(track('m-unsigned'))
    await vi.waitFor(() => expect(calls).toHaveLength(1))
    expect(warn).not.toHaveBeenCalled()
    const signed = [1, 2].map((n) =>
      webhookPlugin({ webhooks: [HOOK], sharedSecret: SECRET }, { fetch, storageKey: `s${n}` }),
    )
    for (const plugin of signed) await plugin.load({} as Context, {} as never)
    expect(warn).not.toHaveBeenCalled() // the text is in the signing chunk, loaded on first use
    for (const [n, plugin] of signed.entries()) plugin.track?.(track(`m-signed-${n}`))
    await vi.waitFor(() => expect(calls).toHaveLength(3))
    expect(warn).toHaveBeenCalledTimes(1)
    const message = String(warn.mock.calls[0]?.[0])
    expect(message).toMatch(/public.*server relay/)
    expect(message).not.toContain(SECRET)
    for (const plugin of [unsigned, ...signed]) plugin.unload?.({} as Context, {} as never)
  })

  it('refuses to sign on a page without WebCrypto (not HTTPS or localhost)', async () => {
    const webhookPlugin = await load()
    vi.stubGlobal('isSecureContext', false)
    expect(() => webhookPlugin({ webhooks: [HOOK], sharedSecret: SECRET })).toThrow(
      expect.objectContaining({
        name: 'BrowserWebhookError',
        code: 'insecure_context',
        message: expect.not.stringContaining(SECRET),
      }),
    )
    expect(() => webhookPlugin({ webhooks: [HOOK] })).not.toThrow()
  })
})

describe('a page whose WebCrypto fails', () => {
  it('keeps the event queued, logs the failure and tries again later, without an unhandled rejection', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const sign = vi
      .spyOn(crypto.subtle, 'sign')
      .mockRejectedValueOnce(new DOMException('refused', 'OperationError'))
    const webhookPlugin = await load()
    const { fetch, calls } = receiver()
    const plugin = webhookPlugin({ webhooks: [HOOK], sharedSecret: SECRET }, { fetch })
    await plugin.load({} as Context, {} as never)
    plugin.track?.(track('m-3'))
    await vi.waitFor(() => expect(error).toHaveBeenCalledTimes(1))
    expect(calls).toEqual([])
    expect(
      Object.keys(localStorage).filter((k) => k.startsWith('analytics-webhooks:')),
    ).toHaveLength(1)
    await plugin.flush()
    await vi.waitFor(() => expect(calls).toHaveLength(1))
    expect(sign).toHaveBeenCalledTimes(2)
    plugin.unload?.({} as Context, {} as never)
  })
})
