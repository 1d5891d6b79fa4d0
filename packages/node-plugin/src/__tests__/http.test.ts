/** One attempt over undici: a request undici refuses to build is permanent `invalid_request`, never retried, and nothing is sent. */

import { Agent, type Dispatcher } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeadEvent } from '../events.js'
import { attempt, toTarget } from '../http.js'
import { webhookPlugin } from '../plugin.js'
import { type Receiver, startReceiver, testAnalytics } from './receiver.js'
import { storeFactories } from './stores.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function receiver(): Promise<Receiver> {
  const r = await startReceiver()
  cleanups.push(() => r.close())
  return r
}

function agent(): Agent {
  const dispatcher = new Agent()
  cleanups.push(() => dispatcher.close())
  return dispatcher
}

// The settings refuse every header undici would refuse (names that are not
// tokens, values with control characters, the headers the destination sets,
// and, being added, hop-by-hop ones), so the settings cannot reach undici's
// refusal. These call attempt() directly, with the headers undici refuses.
describe('attempt: a request undici will not build', () => {
  const refused: Array<[string, Record<string, string>, string]> = [
    ['a Keep-Alive header', { 'Keep-Alive': 'timeout=5' }, 'invalid keep-alive header'],
    ['an Upgrade header', { Upgrade: 'websocket' }, 'invalid upgrade header'],
    ['an Expect header', { Expect: '100-continue' }, 'expect header not supported'],
    ['a header name that is not a token', { 'X Team': 'growth' }, 'invalid header key'],
    [
      'a header value with a line break (its value never shown)',
      { Authorization: 'Bearer s3cret\r\nX-Injected: 1' },
      'invalid Authorization header',
    ],
  ]
  for (const [name, headers, detail] of refused) {
    it(`${name} is permanent invalid_request, and the receiver sees nothing`, async () => {
      const r = await receiver()
      const result = await attempt(agent(), toTarget(r.url), 'POST', headers, '{}', 5000)
      expect(result).toEqual({ verdict: 'permanent', reason: 'invalid_request', detail })
      expect(r.requests).toHaveLength(0)
    })
  }

  it('the same agent still sends a request it can build', async () => {
    const r = await receiver()
    const dispatcher = agent()
    await attempt(dispatcher, toTarget(r.url), 'POST', { Expect: '100-continue' }, '{}', 5000)
    const result = await attempt(dispatcher, toTarget(r.url), 'POST', {}, '{}', 5000)
    expect(result).toMatchObject({ verdict: 'delivered', status: 200 })
    expect(r.requests).toHaveLength(1)
  })
})

describe.each(storeFactories)('invalid_request through the plugin ($name store)', (factory) => {
  // The plugin's own inputs cannot make undici refuse a request (see above), but an
  // application's dispatcher can: here one whose interceptor adds a Keep-Alive header.
  function addingKeepAlive(): Dispatcher {
    const base = agent()
    return base.compose(
      (dispatch) => (options, handler) =>
        dispatch(
          {
            ...options,
            headers: { ...(options.headers as Record<string, string>), 'Keep-Alive': 'timeout=5' },
          },
          handler,
        ),
    )
  }

  it('is dead-lettered at once as invalid_request with undici message, not retried until expired', async () => {
    const r = await receiver()
    const made = await factory.make()
    cleanups.push(() => made.cleanup())
    const store = made.connect()
    const plugin = webhookPlugin(
      // A short window: were the refusal retried, the delivery would end `expired` within it.
      { webhooks: [r.url], retryWindowMs: 1000 },
      {
        store,
        dispatcher: addingKeepAlive(),
        pollIntervalMs: 50,
        retry: { baseDelayMs: 20, maxDelayMs: 100 },
        backoff: { baseDelayMs: 50, maxDelayMs: 200 },
      },
    )
    cleanups.push(async () => {
      await plugin.close()
      await store.close()
    })
    const dead: DeadEvent[] = []
    plugin.on('dead', (e) => dead.push(e))
    const analytics = testAnalytics()
    cleanups.push(() => analytics.closeAndFlush())
    await analytics.register(plugin)
    analytics.track({ userId: 'u1', event: 'E' })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    const detail = 'webhooks[0]: invalid_request: invalid keep-alive header'
    expect(dead).toEqual([
      expect.objectContaining({ reason: 'invalid_request', attempts: 1, detail }),
    ])
    const [letter] = await store.listDead()
    expect(letter).toMatchObject({ reason: 'invalid_request', attempts: 1, detail })
    expect(r.requests).toHaveLength(0)
  })
})
