/** Who may use the dashboard, over real HTTP: the token on any address but loopback and on every mounted handler, loopback that refuses other host names, actions that refuse cross-site requests, and no secret from the plugin's settings in any answer. */

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { QueueStore } from '../../store/types.js'
import { sessionCookie } from '../access.js'
import { dashboard } from '../handler.js'
import { nodeDashboard } from '../node.js'
import {
  ACTION_HEADERS,
  type LiveQueue,
  liveQueue,
  type RawAnswer,
  type RunningUi,
  raw,
  SECRET_HEADER_VALUE,
  SHARED_SECRET,
  startUi,
} from './fixtures.js'

const API = [
  { method: 'GET', path: 'api/stats' },
  { method: 'GET', path: 'api/events' },
  { method: 'GET', path: 'api/dead' },
  { method: 'POST', path: 'api/dead/replay' },
  { method: 'POST', path: 'api/dead/purge' },
] as const

let queue: LiveQueue
let reader: QueueStore
let letterId: string

/** A queue with two dead letters, refused by the receiver. */
beforeEach(async () => {
  queue = await liveQueue('sqlite', { events: { exclude: ['track:Heartbeat'] } })
  queue.receiver.answer(() => ({ status: 400 }))
  queue.analytics.track({ userId: 'u1', event: 'Refused', messageId: 'refused-1' })
  queue.analytics.track({ userId: 'u1', event: 'Refused', messageId: 'refused-2' })
  queue.analytics.track({ userId: 'u1', event: 'Heartbeat', messageId: 'filtered-1' })
  await vi.waitFor(async () => expect((await queue.plugin.stats()).dead).toBe(2), {
    timeout: 10_000,
  })
  queue.receiver.answer(() => ({ status: 200 }))
  reader = await queue.open()
  letterId = (await reader.listDead({ queue: queue.plugin.queue }))[0]?.id ?? ''
})
afterEach(async () => {
  await queue.cleanup()
})

/** Each API call, with `headers`, and a body for the actions. */
function callEach(base: string, headers: Record<string, string> = {}): Promise<RawAnswer[]> {
  return Promise.all(
    API.map(({ method, path }) =>
      raw(`${base}${path}`, {
        method,
        headers: method === 'POST' ? { ...ACTION_HEADERS, ...headers } : headers,
        ...(method === 'POST' ? { body: JSON.stringify({ id: letterId }) } : {}),
        ...(path === 'api/events' ? { streamMs: 300 } : {}),
      }),
    ),
  )
}

async function deadCount(): Promise<number> {
  return (await reader.stats(queue.plugin.queue)).dead
}

describe('the ui server on an address other than loopback', () => {
  let ui: RunningUi
  beforeEach(async () => {
    ui = await startUi([...queue.uiArgs, '--host', '0.0.0.0'])
  })
  afterEach(async () => {
    expect(await ui.stop()).toBe(0)
  })

  it('makes a token with crypto and prints it in the address to open', () => {
    expect(ui.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(ui.output.join('\n')).toContain('A token was generated for this run')
  })

  it('refuses every API call and action without the token, with a wrong one, or with it in the query (401)', async () => {
    const local = ui.base.replace('localhost', '127.0.0.1')
    const without = await callEach(local)
    const wrong = await callEach(local, { authorization: 'Bearer not-the-token-at-all' })
    const inQuery = await Promise.all(
      API.map(({ method, path }) =>
        raw(`${local}${path}?token=${ui.token}`, {
          method,
          ...(method === 'POST' ? { headers: ACTION_HEADERS, body: '{}' } : {}),
          ...(path === 'api/events' ? { streamMs: 300 } : {}),
        }),
      ),
    )
    for (const answer of [...without, ...wrong, ...inQuery]) {
      expect(answer.status).toBe(401)
      expect(answer.body).not.toContain('"reading"')
    }
    expect(await deadCount()).toBe(2)
    const page = await raw(local)
    expect(page.status).toBe(401)
    expect(page.body).toContain('needs its token')
  })

  it('serves every API call to the token as a bearer header', async () => {
    const local = ui.base.replace('localhost', '127.0.0.1')
    const answers = await callEach(local, { authorization: `Bearer ${ui.token}` })
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 404])
    // The replay moved the letter back into the queue, so the purge found nothing by that id.
    expect(JSON.parse(answers[3]?.body ?? '')).toEqual({ replayed: 1, unsendable: 0 })
  })

  it('logs a browser in with ?token= once: an HttpOnly SameSite=Strict cookie, and a redirect that drops the token', async () => {
    const local = ui.base.replace('localhost', '127.0.0.1')
    const login = await raw(`${local}?token=${ui.token}`)
    expect(login.status).toBe(303)
    expect(login.headers.location).toBe('/')
    const cookie = login.headers['set-cookie']?.[0] ?? ''
    expect(cookie).toMatch(/^aw_dashboard_[0-9a-f]{12}=[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict$/)
    expect(cookie).not.toContain(ui.token ?? '')
    const session = cookie.split(';')[0] ?? ''
    const page = await raw(local, { headers: { cookie: session } })
    expect(page.status).toBe(200)
    expect(page.headers['content-security-policy']).toContain("default-src 'none'")
    expect(page.headers['referrer-policy']).toBe('no-referrer')
    const stats = await raw(`${local}api/stats`, { headers: { cookie: session } })
    expect(JSON.parse(stats.body).reading.stats.dead).toBe(2)

    const wrong = await raw(`${local}?token=wrong-token-wrong-token`)
    expect(wrong.status).toBe(303)
    expect(wrong.headers['set-cookie']).toBeUndefined()
  })
})

describe('the ui server on loopback', () => {
  it('needs no token from this machine, but refuses a request addressed to another host name (DNS rebinding)', async () => {
    const ui = await startUi(queue.uiArgs)
    try {
      expect(ui.token).toBeNull()
      const port = new URL(ui.base).port
      const ours = await callEach(ui.base, { host: `localhost:${port}` })
      expect(ours.map((a) => a.status)).toEqual([200, 200, 200, 200, 404])
      const rebound = await callEach(ui.base, {
        host: `attacker.example:${port}`,
        origin: `http://attacker.example:${port}`,
      })
      expect(rebound.map((a) => a.status)).toEqual([401, 401, 401, 401, 401])
      expect((await raw(ui.base, { headers: { host: 'attacker.example' } })).status).toBe(401)
    } finally {
      expect(await ui.stop()).toBe(0)
    }
  })

  it('asks for the token when one is given, even on loopback', async () => {
    const token = 'a-token-chosen-by-the-operator'
    const ui = await startUi(queue.uiArgs, { ANALYTICS_WEBHOOKS_UI_TOKEN: token })
    try {
      expect(ui.token).toBe(token)
      expect((await callEach(ui.base)).map((a) => a.status)).toEqual([401, 401, 401, 401, 401])
    } finally {
      expect(await ui.stop()).toBe(0)
    }
  })
})

/** A dashboard mounted on a plain node:http server at /ops/queue/. */
async function mounted(
  token: string,
): Promise<{ base: string; server: Server; close(): Promise<void> }> {
  const board = dashboard({ plugin: queue.plugin, store: reader, token, intervalMs: 100 })
  const listener = nodeDashboard(board)
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/ops/queue')) listener(req, res)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    base: `http://127.0.0.1:${port}/ops/queue/`,
    server,
    close: async () => {
      await board.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('a mounted handler', () => {
  const token = 'mounted-dashboard-token-1234'

  it('refuses every API call and action without the token (401), and serves them with it', async () => {
    const app = await mounted(token)
    try {
      const answers = await callEach(app.base)
      expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401])
      expect((await raw(app.base)).status).toBe(401)
      expect(await deadCount()).toBe(2)
      const allowed = await callEach(app.base, { authorization: `Bearer ${token}` })
      expect(allowed.map((a) => a.status)).toEqual([200, 200, 200, 200, 404])
    } finally {
      await app.close()
    }
  })

  it('makes a token when none is given, and refuses a short one', () => {
    const made = dashboard({ store: reader })
    expect(made.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(() => dashboard({ store: reader, token: 'short' })).toThrow(/at least 16/)
  })

  it("takes filtered from the plugin's stats", async () => {
    const app = await mounted(token)
    try {
      const stats = await raw(`${app.base}api/stats`, {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(JSON.parse(stats.body).reading.stats).toMatchObject({ dead: 2, filtered: 1 })
    } finally {
      await app.close()
    }
  })
})

describe('actions refuse what a cross-site page could send', () => {
  const token = 'cross-site-dashboard-token-1234'
  const session = () => {
    const { name, value } = sessionCookie(token)
    return `${name}=${value}`
  }

  it.each([
    ['without the custom header', { 'x-analytics-webhooks-dashboard': '' }],
    ['from another Origin', { origin: 'https://attacker.example' }],
    ['marked cross-site by the browser', { 'sec-fetch-site': 'cross-site' }],
    ['marked same-site (a sibling subdomain) by the browser', { 'sec-fetch-site': 'same-site' }],
    ['as a form would (text/plain)', { 'content-type': 'text/plain' }],
  ])('refuses a POST %s (403), even with the session cookie', async (_name, headers) => {
    const app = await mounted(token)
    try {
      const host = new URL(app.base).host
      for (const action of ['replay', 'purge']) {
        const answer = await raw(`${app.base}api/dead/${action}`, {
          method: 'POST',
          headers: {
            ...ACTION_HEADERS,
            origin: `http://${host}`,
            'sec-fetch-site': 'same-origin',
            cookie: session(),
            ...headers,
          },
          body: JSON.stringify({ id: letterId }),
        })
        expect(answer.status).toBe(403)
        expect(JSON.parse(answer.body).error).toBe('cross_site')
      }
      expect(await deadCount()).toBe(2)
    } finally {
      await app.close()
    }
  })

  it('accepts the same POST from the page itself', async () => {
    const app = await mounted(token)
    try {
      const host = new URL(app.base).host
      const answer = await raw(`${app.base}api/dead/purge`, {
        method: 'POST',
        headers: {
          ...ACTION_HEADERS,
          origin: `http://${host}`,
          'sec-fetch-site': 'same-origin',
          cookie: session(),
        },
        body: JSON.stringify({ id: letterId }),
      })
      expect(answer.status).toBe(200)
      expect(await deadCount()).toBe(1)
    } finally {
      await app.close()
    }
  })
})

describe("no secret from the plugin's settings reaches any answer", () => {
  it('the shared secret and header values appear in no body or header of the page, the API, the live feed or the actions', async () => {
    const token = 'secret-check-dashboard-token'
    const app = await mounted(token)
    try {
      const auth = { authorization: `Bearer ${token}` }
      const answers = [
        await raw(`${app.base}?token=${token}`),
        await raw(app.base, { headers: auth }),
        await raw(`${app.base}api/stats`, { headers: auth }),
        await raw(`${app.base}api/dead`, { headers: auth }),
        await raw(`${app.base}api/dead?reason=http_4xx&messageId=refused-1`, { headers: auth }),
        await raw(`${app.base}api/events`, { headers: auth, streamMs: 400 }),
        await raw(`${app.base}api/dead/replay`, {
          method: 'POST',
          headers: { ...auth, ...ACTION_HEADERS },
          body: JSON.stringify({ id: letterId }),
        }),
        await raw(`${app.base}api/dead/purge`, {
          method: 'POST',
          headers: { ...auth, ...ACTION_HEADERS },
          body: JSON.stringify({ reason: 'http_4xx' }),
        }),
        await raw(`${app.base}api/stats`),
      ]
      // The feed did stream readings (so the check covers them), and the letters were listed.
      expect(answers[5]?.body).toContain('event: sample')
      expect(answers[3]?.body).toContain('refused-')
      for (const answer of answers) {
        const text = answer.body + JSON.stringify(answer.headers)
        expect(text).not.toContain(SHARED_SECRET)
        expect(text).not.toContain(SECRET_HEADER_VALUE)
        expect(text).not.toContain(queue.receiver.url)
      }
    } finally {
      await app.close()
    }
  })
})
