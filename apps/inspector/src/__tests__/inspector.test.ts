/** The inspector's server over real HTTP on 127.0.0.1: verdicts, fault modes as a sender sees them, the mode API, CORS and the live feed. */

import { request } from 'node:http'
import { singleBody } from '@analytics-webhooks/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createInspector, type Inspector, type InspectorInfo } from '../index.js'
import { batchBody, headersFor, nextDelivery, post, SECRET, trackJson } from './deliveries.js'

let inspector: Inspector

beforeEach(async () => {
  inspector = await createInspector({ port: 0, secret: SECRET })
})

afterEach(async () => {
  await inspector.close()
})

function last() {
  const deliveries = inspector.deliveries()
  const delivery = deliveries[deliveries.length - 1]
  if (delivery === undefined) throw new Error('no delivery recorded')
  return delivery
}

describe('receiving a delivery', () => {
  it('verifies a signed event with the verifier, answers 200 and keeps headers, body and batch size', async () => {
    const body = singleBody(trackJson('Signed Up'))
    const response = await post(inspector.hooksUrl, { secret: SECRET, body })
    expect(response.status).toBe(200)
    const delivery = last()
    expect(delivery.verdict.status).toBe('verified')
    expect(delivery.verdict.scheme).toBe('classic')
    expect(delivery.body).toBe(body.json)
    expect(delivery.headers['user-agent']).toBe('Segment.io/1.0')
    expect(delivery.headers['x-signature']).toMatch(/^[0-9a-f]{40}$/)
    expect(delivery).toMatchObject({ eventCount: 1, isBatch: false, eventTypes: ['track'] })
    expect(delivery.answer).toMatchObject({ outcome: 'answered', status: 200, mode: 'normal' })
  })

  it('verifies a batch signed over its first event and reports the batch size', async () => {
    const response = await post(inspector.hooksUrl, { secret: SECRET, body: batchBody(3) })
    expect(response.status).toBe(200)
    expect(last()).toMatchObject({ eventCount: 3, isBatch: true, verdict: { status: 'verified' } })
  })

  it('says when a classic signature matched only the re-serialised body', async () => {
    const body = singleBody(trackJson())
    await fetch(inspector.hooksUrl, {
      method: 'POST',
      headers: headersFor(body, SECRET),
      body: JSON.stringify(JSON.parse(body.json), null, 2),
    })
    expect(last().verdict).toMatchObject({
      status: 'verified',
      label:
        'verified (classic X-Signature, over the re-serialised body: the bytes received differ)',
    })
    await post(inspector.hooksUrl, { secret: SECRET, body })
    expect(last().verdict.label).toBe('verified (classic X-Signature)')
  })

  it('verifies Standard Webhooks signatures too', async () => {
    await inspector.close()
    const secret = `whsec_${Buffer.from('a standard webhooks secret').toString('base64')}`
    inspector = await createInspector({ port: 0, secret })
    const body = singleBody(trackJson())
    await fetch(inspector.hooksUrl, {
      method: 'POST',
      headers: headersFor(body, secret, 'standard'),
      body: body.json,
    })
    expect(last().verdict).toMatchObject({ status: 'verified', scheme: 'standard' })
  })

  it('shows a tampered body as a signature mismatch, and an unsigned one as unsigned', async () => {
    const body = singleBody(trackJson())
    await fetch(inspector.hooksUrl, {
      method: 'POST',
      headers: headersFor(body, SECRET),
      body: body.json.replace('u1', 'u2'),
    })
    expect(last().verdict.status).toBe('mismatch')
    await post(inspector.hooksUrl, { secret: 'another-secret' })
    expect(last().verdict.status).toBe('mismatch')
    await post(inspector.hooksUrl)
    expect(last().verdict.status).toBe('unsigned')
  })

  it('answers 401 to a bad signature in strict mode, 200 to a good one', async () => {
    await inspector.close()
    inspector = await createInspector({ port: 0, secret: SECRET, strict: true })
    expect((await post(inspector.hooksUrl, { secret: 'wrong' })).status).toBe(401)
    expect((await post(inspector.hooksUrl)).status).toBe(401)
    expect((await post(inspector.hooksUrl, { secret: SECRET })).status).toBe(200)
  })

  it('says a signature was not checked when it has no secret, and never shows a secret', async () => {
    await inspector.close()
    inspector = await createInspector({ port: 0 })
    await post(inspector.hooksUrl, { secret: SECRET })
    expect(last().verdict.status).toBe('unchecked')
    const info = (await (await fetch(`${inspector.url}/api/info`)).json()) as InspectorInfo
    expect(info.secretConfigured).toBe(false)
    expect(JSON.stringify(inspector.deliveries())).not.toContain(SECRET)
  })

  it('names the hook from /hooks/:name and keeps only the last N deliveries', async () => {
    await inspector.close()
    inspector = await createInspector({ port: 0, capacity: 2 })
    await post(`${inspector.hooksUrl}/orders`)
    await post(`${inspector.hooksUrl}/orders`)
    await post(`${inspector.hooksUrl}/billing`)
    expect(inspector.deliveries().map((d) => [d.id, d.hook])).toEqual([
      [2, 'orders'],
      [3, 'billing'],
    ])
    expect((await post(`${inspector.hooksUrl}/bad%E0%A4`)).status).toBe(200)
    expect(inspector.deliveries().at(-1)?.hook).toBe('bad%E0%A4')
  })

  it('answers analytics-node on /v1/batch without listing it, so the demo never calls Segment', async () => {
    const response = await fetch(`${inspector.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [] }),
    })
    expect(response.status).toBe(200)
    expect(inspector.segmentBatches()).toBe(1)
    expect(inspector.deliveries()).toHaveLength(0)
  })
})

describe('fault modes, as the sender sees them', () => {
  it('500: the sender gets 500', async () => {
    inspector.setMode({ mode: '500' })
    expect((await post(inspector.hooksUrl, { secret: SECRET })).status).toBe(500)
    expect(last().answer).toMatchObject({ status: 500, mode: '500' })
  })

  it('429: the sender gets 429 with Retry-After', async () => {
    inspector.setMode({ mode: '429' })
    const response = await post(inspector.hooksUrl, { secret: SECRET })
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('2')
  })

  it('hang: the sender gets no answer before it gives up, and the page says so', async () => {
    inspector.setMode({ mode: 'hang' })
    const abandoned = nextDelivery(inspector, (d) => d.answer.outcome === 'abandoned')
    await expect(
      post(inspector.hooksUrl, { secret: SECRET, signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow(/abort|timeout/i)
    const delivery = await abandoned
    expect(delivery.answer.status).toBeNull()
    expect(delivery.answer.note).toMatch(/gave up/)
  })

  it('hang: a sender that waits longer than the hang gets 200 in the end', async () => {
    await inspector.close()
    inspector = await createInspector({ port: 0, hangMs: 200 })
    inspector.setMode({ mode: 'hang' })
    expect((await post(inspector.hooksUrl)).status).toBe(200)
    expect(last().answer).toMatchObject({ outcome: 'answered', status: 200, mode: 'hang' })
  })

  it('drop: the connection is destroyed and the sender gets no status', async () => {
    inspector.setMode({ mode: 'drop' })
    const error = await post(inspector.hooksUrl, { secret: SECRET }).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string; message?: string } },
    )
    expect(error).toBeInstanceOf(TypeError)
    expect(String(error?.cause?.code ?? error?.cause?.message)).toMatch(/SOCKET|ECONNRESET|closed/i)
    expect(last().answer).toMatchObject({ outcome: 'dropped', status: null })
  })

  it('a mode set for a number of deliveries returns to normal by itself', async () => {
    inspector.setMode({ mode: '500', times: 1 })
    expect((await post(inspector.hooksUrl)).status).toBe(500)
    expect(inspector.mode()).toEqual({ mode: 'normal', remaining: null })
    expect((await post(inspector.hooksUrl)).status).toBe(200)
  })

  it('back to normal: 200 again', async () => {
    inspector.setMode({ mode: '429' })
    expect((await post(inspector.hooksUrl)).status).toBe(429)
    inspector.setMode({ mode: 'normal' })
    expect((await post(inspector.hooksUrl)).status).toBe(200)
  })
})

describe('GET/POST /api/mode', () => {
  it('reads and changes the mode', async () => {
    expect(await (await fetch(`${inspector.url}/api/mode`)).json()).toEqual({
      mode: 'normal',
      remaining: null,
    })
    const changed = await fetch(`${inspector.url}/api/mode`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'drop', times: 2 }),
    })
    expect(await changed.json()).toEqual({ mode: 'drop', remaining: 2 })
    expect(inspector.mode()).toEqual({ mode: 'drop', remaining: 2 })
  })

  it('refuses an unknown mode or a bad count with 400', async () => {
    for (const body of ['{"mode":"teapot"}', '{"mode":"500","times":0}', 'not json']) {
      const response = await fetch(`${inspector.url}/api/mode`, { method: 'POST', body })
      expect(response.status).toBe(400)
    }
    expect(inspector.mode().mode).toBe('normal')
  })
})

describe('CORS, so the browser plugin can post', () => {
  it('answers a preflight allowing the signature and custom headers', async () => {
    const response = await fetch(inspector.hooksUrl, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-signature,x-team',
      },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-allow-methods')).toContain('POST')
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'content-type,x-signature,x-team',
    )
    expect(inspector.deliveries()).toHaveLength(0)
  })

  it('lets a page read fault answers too', async () => {
    inspector.setMode({ mode: '429' })
    const response = await post(inspector.hooksUrl)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-expose-headers')).toContain('retry-after')
  })
})

describe('the page and its live feed', () => {
  it('serves the page', async () => {
    const response = await fetch(inspector.url)
    expect(response.headers.get('content-type')).toContain('text/html')
    expect(await response.text()).toContain('Webhook inspector')
  })

  it('streams a snapshot, then each new delivery and mode change, over server-sent events', async () => {
    const events: Array<{ event: string; data: unknown }> = []
    const wanted = (): boolean => events.some((e) => e.event === 'delivery')
    const req = request(`${inspector.url}/api/events`)
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream')
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buffer += chunk
          let end = buffer.indexOf('\n\n')
          while (end !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.+)$/m.exec(block)?.[1]
            const data = /^data: (.+)$/m.exec(block)?.[1]
            if (event && data) events.push({ event, data: JSON.parse(data) })
            if (event === 'hello') {
              inspector.setMode({ mode: '500' })
              void post(inspector.hooksUrl, { secret: SECRET })
            }
            end = buffer.indexOf('\n\n')
          }
          if (wanted()) resolve()
        })
      })
      req.on('error', reject)
      setTimeout(() => reject(new Error('no delivery event within 5 s')), 5_000)
    })
    req.end()
    await done
    req.destroy()
    expect(events.map((e) => e.event)).toEqual(['hello', 'mode', 'delivery'])
    expect(events[0]?.data).toMatchObject({ mode: { mode: 'normal' }, deliveries: [] })
    expect(events[2]?.data).toMatchObject({
      answer: { status: 500 },
      verdict: { status: 'verified' },
    })
  })
})
