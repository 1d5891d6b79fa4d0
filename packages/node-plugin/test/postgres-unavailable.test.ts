/** PostgreSQL unreachable when the plugin loads: the plugin stays registered, events fail (never acknowledged) while it is down, and flow once it is back. */

import type { AddressInfo } from 'node:net'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Analytics } from '@segment/analytics-node'
import { afterEach, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { WebhookPluginError } from '../src/errors.js'
import { webhookPlugin } from '../src/plugin.js'
import { offlineAnalytics } from './fixtures/acknowledged-tracking.js'
import { describePostgres, dropSchemas, uniqueSchemaName } from './postgres-database.js'

/** A TCP proxy to PostgreSQL that refuses every connection until `up` is set. */
async function switchableProxy(
  url: string,
): Promise<{ url: string; up(): void; close(): Promise<void> }> {
  const target = new URL(url)
  const sockets = new Set<Socket>()
  let up = false
  const server: Server = createServer((client) => {
    sockets.add(client)
    if (!up) {
      client.destroy()
      return
    }
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(upstream)
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxied = new URL(url)
  proxied.hostname = '127.0.0.1'
  proxied.port = String((server.address() as AddressInfo).port)
  return {
    url: proxied.toString(),
    up: () => {
      up = true
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Tracks one event; resolves with the error analytics-node reports for it, if any. */
function track(analytics: Analytics, messageId: string): Promise<unknown> {
  return new Promise((resolve) =>
    analytics.track({ userId: 'u1', event: 'E', messageId }, (error) => resolve(error)),
  )
}

describePostgres('PostgreSQL unreachable when the plugin loads', (url) => {
  const schemas: string[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    await dropSchemas(url, schemas.splice(0))
  })

  it('stays registered: an event fails while the database is unreachable, and events flow once it is back', async () => {
    const proxy = await switchableProxy(url)
    cleanups.push(() => proxy.close())
    const receiver: Receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const schema = uniqueSchemaName('aw_down')
    schemas.push(schema)
    const plugin = webhookPlugin(
      { webhooks: [receiver.url] },
      { store: { postgres: { connectionString: proxy.url, schema } }, pollIntervalMs: 200 },
    )
    cleanups.push(() => plugin.close())
    const errors: Error[] = []
    plugin.on('error', (error) => errors.push(error))
    const analytics = offlineAnalytics()
    cleanups.push(() => analytics.closeAndFlush())

    await analytics.register(plugin)
    for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(errors[0]).toBeInstanceOf(WebhookPluginError)
    expect((errors[0] as WebhookPluginError).code).toBe('store_unavailable')

    // Down: the event is not acknowledged (analytics-node reports the failure to the caller).
    expect(await track(analytics, 'while-down')).toBeDefined()

    proxy.up()
    expect(await track(analytics, 'after')).toBeUndefined()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(
      receiver.requests.map((r) => (JSON.parse(r.body) as { messageId: string }).messageId),
    ).toEqual(['after'])
  })
})
