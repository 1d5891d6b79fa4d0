// Tests the classification of one attempt: statuses, Retry-After, error codes, and real failures from fetch and undici.

import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import fc from 'fast-check'
import { Agent, request, errors as undiciErrors } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AttemptResult,
  classifyError,
  classifyFetchError,
  classifyResponse,
  parseRetryAfter,
  type Verdict,
} from '../classify.js'
import { selfSignedCertificate } from './self-signed.js'

describe('classification: 2xx is delivered', () => {
  it('every status from 200 to 299', () => {
    for (let status = 200; status < 300; status++) {
      expect(classifyResponse(status, '30')).toEqual({
        verdict: 'delivered',
        reason: 'delivered',
        status,
      })
    }
  })
})

describe('classification: 5xx is temporary, except 501 and 505 which are permanent', () => {
  it('500..599 but 501 and 505 retry as http_5xx', () => {
    for (let status = 500; status < 600; status++) {
      if (status === 501 || status === 505) continue
      expect(classifyResponse(status)).toEqual({ verdict: 'retry', reason: 'http_5xx', status })
    }
  })

  it('501 Not Implemented and 505 HTTP Version Not Supported are permanent', () => {
    expect(classifyResponse(501, '5')).toEqual({
      verdict: 'permanent',
      reason: 'http_501',
      status: 501,
    })
    expect(classifyResponse(505)).toEqual({ verdict: 'permanent', reason: 'http_505', status: 505 })
  })
})

describe('classification: 408, 410, 429 and 460 are temporary; 413 and other 4xx permanent', () => {
  it('the four retryable 4xx have their own reasons', () => {
    for (const status of [408, 410, 429, 460]) {
      expect(classifyResponse(status)).toEqual({
        verdict: 'retry',
        reason: `http_${status}`,
        status,
      })
    }
  })

  it('413 Payload Too Large is permanent with its own reason, http_413 (a batch can be split)', () => {
    expect(classifyResponse(413, '10')).toEqual({
      verdict: 'permanent',
      reason: 'http_413',
      status: 413,
    })
  })

  it('every other 4xx is permanent http_4xx', () => {
    for (let status = 400; status < 500; status++) {
      if ([408, 410, 413, 429, 460].includes(status)) continue
      expect(classifyResponse(status, '10')).toEqual({
        verdict: 'permanent',
        reason: 'http_4xx',
        status,
      })
    }
  })
})

describe('classification: 3xx is permanent (redirects are not followed)', () => {
  it('every status from 300 to 399', () => {
    for (let status = 300; status < 400; status++) {
      expect(classifyResponse(status)).toEqual({ verdict: 'permanent', reason: 'http_3xx', status })
    }
  })
})

describe('classification: statuses outside 200..599 are permanent http_unexpected', () => {
  it('1xx, 600+ and nonsense', () => {
    for (const status of [0, 100, 101, 199, 600, 999, -1, 200.5, Number.NaN]) {
      expect(classifyResponse(status)).toMatchObject({
        verdict: 'permanent',
        reason: 'http_unexpected',
      })
    }
  })
})

describe('classification: Retry-After in seconds or as an HTTP-date is honoured', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:27:00 GMT')

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0')).toBe(0)
    expect(parseRetryAfter('30')).toBe(30_000)
    expect(parseRetryAfter(' 120 ')).toBe(120_000)
    expect(parseRetryAfter('007')).toBe(7_000)
  })

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(60_000)
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:26:00 GMT', now)).toBe(0)
    // The obsolete RFC 850 form is still a date.
    expect(parseRetryAfter('Wednesday, 21-Oct-26 07:27:30 GMT', now)).toBe(30_000)
  })

  it('ignores what it cannot read', () => {
    for (const value of [null, undefined, '', '  ', '-5', '1.5', '1e3', '+3', 'soon', '12 34']) {
      expect(parseRetryAfter(value, now)).toBeUndefined()
    }
  })

  it('keeps an absurd number of seconds finite', () => {
    const value = parseRetryAfter('9'.repeat(400), now)
    expect(Number.isFinite(value)).toBe(true)
    expect(value).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('is attached to temporary answers only', () => {
    expect(classifyResponse(503, '120', now)).toEqual({
      verdict: 'retry',
      reason: 'http_5xx',
      status: 503,
      retryAfterMs: 120_000,
    })
    expect(classifyResponse(429, 'Wed, 21 Oct 2026 07:28:00 GMT', now).retryAfterMs).toBe(60_000)
    expect(classifyResponse(503, 'garbage', now)).not.toHaveProperty('retryAfterMs')
    expect(classifyResponse(400, '120', now)).not.toHaveProperty('retryAfterMs')
    expect(classifyResponse(200, '120', now)).not.toHaveProperty('retryAfterMs')
  })
})

/** An error shaped like Node's system errors: message, code, errno, syscall. */
function systemError(code: string, message = `${code.toLowerCase()} 127.0.0.1:9`): Error {
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'connect' })
}

/** What Node's fetch (undici inside) throws: a TypeError whose cause carries the code. */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause })
}

describe('classification: error codes on the error or in its cause chain', () => {
  const table: Array<[string, unknown, AttemptResult]> = [
    [
      'ECONNREFUSED',
      systemError('ECONNREFUSED'),
      { verdict: 'retry', reason: 'connection_refused' },
    ],
    ['ECONNRESET', systemError('ECONNRESET'), { verdict: 'retry', reason: 'connection_reset' }],
    ['EPIPE', systemError('EPIPE'), { verdict: 'retry', reason: 'connection_reset' }],
    ['ENOTFOUND', systemError('ENOTFOUND'), { verdict: 'retry', reason: 'dns' }],
    ['EAI_AGAIN', systemError('EAI_AGAIN'), { verdict: 'retry', reason: 'dns' }],
    ['ETIMEDOUT', systemError('ETIMEDOUT'), { verdict: 'retry', reason: 'timeout' }],
    ['EHOSTUNREACH', systemError('EHOSTUNREACH'), { verdict: 'retry', reason: 'network' }],
    [
      'undici ConnectTimeoutError',
      new undiciErrors.ConnectTimeoutError(),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'undici HeadersTimeoutError',
      new undiciErrors.HeadersTimeoutError(),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'undici BodyTimeoutError',
      new undiciErrors.BodyTimeoutError(),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'undici SocketError',
      new undiciErrors.SocketError('other side closed'),
      { verdict: 'retry', reason: 'connection_reset' },
    ],
    [
      'fetch failed, cause ENOTFOUND',
      fetchFailed(systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND hooks.invalid')),
      { verdict: 'retry', reason: 'dns' },
    ],
    [
      'fetch failed, cause UND_ERR_CONNECT_TIMEOUT',
      fetchFailed(new undiciErrors.ConnectTimeoutError()),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'fetch failed, cause DEPTH_ZERO_SELF_SIGNED_CERT',
      fetchFailed(systemError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')),
      {
        verdict: 'permanent',
        reason: 'tls',
        detail: 'self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
      },
    ],
    [
      'TLS code nested two causes deep',
      new Error('send failed', {
        cause: fetchFailed(systemError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY')),
      }),
      {
        verdict: 'permanent',
        reason: 'tls',
        detail: 'unknown CA (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)',
      },
    ],
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      systemError('SELF_SIGNED_CERT_IN_CHAIN'),
      { verdict: 'permanent', reason: 'tls', detail: 'unknown CA (SELF_SIGNED_CERT_IN_CHAIN)' },
    ],
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      systemError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      {
        verdict: 'permanent',
        reason: 'tls',
        detail: 'unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      },
    ],
    [
      'CERT_HAS_EXPIRED',
      systemError('CERT_HAS_EXPIRED'),
      { verdict: 'permanent', reason: 'tls', detail: 'expired certificate (CERT_HAS_EXPIRED)' },
    ],
    [
      'CERT_NOT_YET_VALID',
      systemError('CERT_NOT_YET_VALID'),
      {
        verdict: 'permanent',
        reason: 'tls',
        detail: 'certificate not yet valid (CERT_NOT_YET_VALID)',
      },
    ],
    [
      'ERR_TLS_CERT_ALTNAME_INVALID',
      systemError('ERR_TLS_CERT_ALTNAME_INVALID'),
      {
        verdict: 'permanent',
        reason: 'tls',
        detail: 'host name mismatch (ERR_TLS_CERT_ALTNAME_INVALID)',
      },
    ],
    [
      'ERR_SSL_WRONG_VERSION_NUMBER',
      systemError('ERR_SSL_WRONG_VERSION_NUMBER'),
      { verdict: 'permanent', reason: 'tls', detail: 'TLS failure (ERR_SSL_WRONG_VERSION_NUMBER)' },
    ],
    [
      'ERR_TLS_HANDSHAKE_TIMEOUT is a timeout, not a trust failure',
      systemError('ERR_TLS_HANDSHAKE_TIMEOUT'),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'AbortSignal.timeout() reason (TimeoutError)',
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'AbortError',
      new DOMException('This operation was aborted', 'AbortError'),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'undici RequestAbortedError',
      new undiciErrors.RequestAbortedError(),
      { verdict: 'retry', reason: 'timeout' },
    ],
    [
      'AggregateError of IPv6 and IPv4 refusals',
      new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')], 'refused'),
      { verdict: 'retry', reason: 'connection_refused' },
    ],
    [
      'undici InvalidArgumentError (a request it will not build)',
      new undiciErrors.InvalidArgumentError('invalid keep-alive header'),
      { verdict: 'permanent', reason: 'invalid_request', detail: 'invalid keep-alive header' },
    ],
    [
      'undici NotSupportedError (an Expect header)',
      new undiciErrors.NotSupportedError('expect header not supported'),
      { verdict: 'permanent', reason: 'invalid_request', detail: 'expect header not supported' },
    ],
    [
      'fetch failed, cause UND_ERR_INVALID_ARG',
      fetchFailed(new undiciErrors.InvalidArgumentError('invalid header key')),
      { verdict: 'permanent', reason: 'invalid_request', detail: 'invalid header key' },
    ],
    ['an unknown error', new Error('boom'), { verdict: 'retry', reason: 'network' }],
    ['a thrown string', 'boom', { verdict: 'retry', reason: 'network' }],
    ['null', null, { verdict: 'retry', reason: 'network' }],
    ['a non-string code', { code: 42, name: 7 }, { verdict: 'retry', reason: 'network' }],
  ]
  for (const [name, error, expected] of table) {
    it(name, () => {
      expect(classifyError(error)).toEqual(expected)
    })
  }

  it("an invalid_request detail drops a URL's credentials and is cut short", () => {
    const withCredentials = new undiciErrors.InvalidArgumentError(
      'Cannot redirect to https://user:s3cret@hooks.example.com/x',
    )
    expect(classifyError(withCredentials).detail).toBe(
      'Cannot redirect to https://hooks.example.com/x',
    )
    const long = new undiciErrors.InvalidArgumentError('x'.repeat(1000))
    expect(classifyError(long).detail).toBe(`${'x'.repeat(200)}…`)
    expect(classifyError({ code: 'UND_ERR_INVALID_ARG' }).detail).toBe('UND_ERR_INVALID_ARG')
  })

  it('stops at a cause chain that loops', () => {
    const a: { code?: string; cause?: unknown } = { code: 'EWHATEVER' }
    a.cause = { cause: a }
    expect(classifyError(a)).toEqual({ verdict: 'retry', reason: 'network' })
  })

  it('survives an error whose properties throw', () => {
    const hostile = {
      get code(): string {
        throw new Error('getter')
      },
    }
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    expect(classifyError(hostile)).toEqual({ verdict: 'retry', reason: 'network' })
    expect(classifyError(proxy)).toEqual({ verdict: 'retry', reason: 'network' })
  })
})

describe("classification: a browser fetch's errors are timeout or network (classifyFetchError)", () => {
  it('AbortError and TimeoutError are timeouts; everything else fetch throws is network', () => {
    const table: Array<[unknown, AttemptResult]> = [
      [new DOMException('aborted', 'AbortError'), { verdict: 'retry', reason: 'timeout' }],
      [new DOMException('timed out', 'TimeoutError'), { verdict: 'retry', reason: 'timeout' }],
      [new TypeError('Failed to fetch'), { verdict: 'retry', reason: 'network' }],
      [
        new TypeError('NetworkError when attempting to fetch resource.'),
        { verdict: 'retry', reason: 'network' },
      ],
      [new Error('boom'), { verdict: 'retry', reason: 'network' }],
      ['boom', { verdict: 'retry', reason: 'network' }],
      [null, { verdict: 'retry', reason: 'network' }],
      [undefined, { verdict: 'retry', reason: 'network' }],
      [{ name: 7 }, { verdict: 'retry', reason: 'network' }],
    ]
    for (const [error, expected] of table) expect(classifyFetchError(error)).toEqual(expected)
  })

  it('agrees with classifyError on every error a browser fetch can produce (no codes)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom('AbortError', 'TimeoutError', 'TypeError', 'Error'), fc.string()),
        fc.string(),
        (name, message) => {
          const error = new DOMException(message, name)
          expect(classifyFetchError(error)).toEqual(classifyError(error))
        },
      ),
    )
  })

  it('survives an error whose properties throw', () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    const hostile = {
      get name(): string {
        throw new Error('getter')
      },
    }
    expect(classifyFetchError(proxy)).toEqual({ verdict: 'retry', reason: 'network' })
    expect(classifyFetchError(hostile)).toEqual({ verdict: 'retry', reason: 'network' })
  })
})

describe('classification: real failures from fetch and undici on 127.0.0.1', () => {
  const { cert, key } = selfSignedCertificate('localhost')
  let tlsRequests = 0
  const tlsServer = https.createServer({ cert, key }, (_req, res) => {
    tlsRequests++
    res.end('ok')
  })
  const silentServer = http.createServer(() => {
    // Never answers: the client's timeout must fire.
  })
  const resetServer = net.createServer((socket) => {
    socket.on('data', () => socket.resetAndDestroy())
  })
  let refusedPort = 0

  const listen = (server: net.Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    )
  const close = (server: net.Server) => {
    if ('closeAllConnections' in server) (server as http.Server).closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  }
  const ports = { tls: 0, silent: 0, reset: 0 }

  beforeAll(async () => {
    ports.tls = await listen(tlsServer)
    ports.silent = await listen(silentServer)
    ports.reset = await listen(resetServer)
    // A port that was just free and is closed again: connecting to it is refused.
    const probe = net.createServer()
    refusedPort = await listen(probe)
    await close(probe)
  })

  afterAll(async () => {
    await Promise.all([close(tlsServer), close(silentServer), close(resetServer)])
  })

  async function failureOf(attempt: () => Promise<unknown>): Promise<unknown> {
    try {
      await attempt()
    } catch (error) {
      return error
    }
    throw new Error('the attempt did not fail')
  }

  it('a refused connection is connection_refused (fetch and undici)', async () => {
    const url = `http://127.0.0.1:${refusedPort}/`
    const viaFetch = await failureOf(() => fetch(url, { method: 'POST', body: '{}' }))
    const viaUndici = await failureOf(() => request(url, { method: 'POST', body: '{}' }))
    expect(classifyError(viaFetch)).toEqual({ verdict: 'retry', reason: 'connection_refused' })
    expect(classifyError(viaUndici)).toEqual({ verdict: 'retry', reason: 'connection_refused' })
  })

  it('a connection reset mid-request is connection_reset (fetch and undici)', async () => {
    const url = `http://127.0.0.1:${ports.reset}/`
    const viaFetch = await failureOf(() => fetch(url, { method: 'POST', body: '{}' }))
    const viaUndici = await failureOf(() => request(url, { method: 'POST', body: '{}' }))
    expect(classifyError(viaFetch)).toEqual({ verdict: 'retry', reason: 'connection_reset' })
    expect(classifyError(viaUndici)).toEqual({ verdict: 'retry', reason: 'connection_reset' })
  })

  it('a server that never answers is a timeout (AbortSignal.timeout and undici headersTimeout)', async () => {
    const url = `http://127.0.0.1:${ports.silent}/`
    const viaFetch = await failureOf(() =>
      fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(100) }),
    )
    const dispatcher = new Agent({ headersTimeout: 100 })
    const viaUndici = await failureOf(() =>
      request(url, { method: 'POST', body: '{}', dispatcher }),
    )
    await dispatcher.close()
    expect(viaUndici).toBeInstanceOf(undiciErrors.HeadersTimeoutError)
    expect(classifyError(viaFetch)).toEqual({ verdict: 'retry', reason: 'timeout' })
    expect(classifyError(viaUndici)).toEqual({ verdict: 'retry', reason: 'timeout' })
    expect(classifyFetchError(viaFetch)).toEqual({ verdict: 'retry', reason: 'timeout' })
  })

  it('classifyFetchError: a refused connection is network, an aborted request is a timeout', async () => {
    const refused = await failureOf(() => fetch(`http://127.0.0.1:${refusedPort}/`))
    const abort = new AbortController()
    setTimeout(() => abort.abort(), 50)
    const aborted = await failureOf(() =>
      fetch(`http://127.0.0.1:${ports.silent}/`, { signal: abort.signal }),
    )
    expect(classifyFetchError(refused)).toEqual({ verdict: 'retry', reason: 'network' })
    expect(classifyFetchError(aborted)).toEqual({ verdict: 'retry', reason: 'timeout' })
  })

  it('a self-signed certificate is a permanent tls failure, and no request reaches the host', async () => {
    const url = `https://127.0.0.1:${ports.tls}/`
    const viaFetch = await failureOf(() => fetch(url, { method: 'POST', body: '{"secret":1}' }))
    const viaUndici = await failureOf(() => request(url, { method: 'POST', body: '{}' }))
    expect((viaFetch as Error).cause).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
    const selfSigned = {
      verdict: 'permanent',
      reason: 'tls',
      detail: 'self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
    }
    expect(classifyError(viaFetch)).toEqual(selfSigned)
    expect(classifyError(viaUndici)).toEqual(selfSigned)
    expect(tlsRequests).toBe(0)
  })

  it('a request undici will not build is a permanent invalid_request, and nothing reaches the host', async () => {
    let requests = 0
    const server = http.createServer((_req, res) => {
      requests++
      res.end()
    })
    const url = `http://127.0.0.1:${await listen(server)}/`
    const refusals = [
      { 'Keep-Alive': 'timeout=5' },
      { Upgrade: 'websocket' },
      { Expect: '100-continue' },
      { 'X-Token': 'line\r\nbreak' },
    ]
    const details: unknown[] = []
    for (const headers of refusals) {
      const failure = await failureOf(() => request(url, { method: 'POST', body: '{}', headers }))
      const result = classifyError(failure)
      expect(result).toMatchObject({ verdict: 'permanent', reason: 'invalid_request' })
      details.push(result.detail)
    }
    expect(details).toEqual([
      'invalid keep-alive header',
      'invalid upgrade header',
      'expect header not supported',
      'invalid X-Token header',
    ])
    await close(server)
    expect(requests).toBe(0)
  })

  it('a trusted certificate for another name is a permanent tls failure', async () => {
    const dispatcher = new Agent({ connect: { ca: cert } })
    const wrongName = await failureOf(() =>
      request(`https://127.0.0.1:${ports.tls}/`, { method: 'POST', body: '{}', dispatcher }),
    )
    expect(classifyError(wrongName)).toEqual({
      verdict: 'permanent',
      reason: 'tls',
      detail: 'host name mismatch (ERR_TLS_CERT_ALTNAME_INVALID)',
    })
    // The same server, trusted and asked by its name, answers: the failures above are about trust.
    const ok = await request(`https://localhost:${ports.tls}/`, { dispatcher })
    await ok.body.text()
    expect(classifyResponse(ok.statusCode).verdict).toBe('delivered')
    expect(tlsRequests).toBe(1)
    await dispatcher.close()
  })
})

describe('classification: every status maps to exactly one verdict consistent with the rules (property)', () => {
  // The rules restated independently of the implementation.
  function expected(status: number): { verdict: Verdict; reason: string } {
    if (status >= 200 && status <= 299) return { verdict: 'delivered', reason: 'delivered' }
    if (status >= 300 && status <= 399) return { verdict: 'permanent', reason: 'http_3xx' }
    if (status === 501) return { verdict: 'permanent', reason: 'http_501' }
    if (status === 505) return { verdict: 'permanent', reason: 'http_505' }
    if (status >= 500 && status <= 599) return { verdict: 'retry', reason: 'http_5xx' }
    if ([408, 410, 429, 460].includes(status)) return { verdict: 'retry', reason: `http_${status}` }
    if (status === 413) return { verdict: 'permanent', reason: 'http_413' }
    if (status >= 400 && status <= 499) return { verdict: 'permanent', reason: 'http_4xx' }
    return { verdict: 'permanent', reason: 'http_unexpected' }
  }

  it('all of 100..999, exhaustively', () => {
    const counts: Record<Verdict, number> = { delivered: 0, retry: 0, permanent: 0 }
    for (let status = 100; status <= 999; status++) {
      const result = classifyResponse(status)
      expect(result).toMatchObject({ ...expected(status), status })
      counts[result.verdict]++
    }
    expect(counts).toEqual({ delivered: 100, retry: 102, permanent: 698 })
  })

  it('random statuses and Retry-After values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 999 }),
        fc.option(
          fc.oneof(
            fc.nat().map(String),
            fc.string(),
            fc.date().map((d) => d.toUTCString()),
          ),
        ),
        (status, retryAfter) => {
          const result = classifyResponse(status, retryAfter, 0)
          expect(result).toMatchObject(expected(status))
          if (result.retryAfterMs !== undefined) {
            expect(result.verdict).toBe('retry')
            expect(result.retryAfterMs).toBeGreaterThanOrEqual(0)
            expect(Number.isFinite(result.retryAfterMs)).toBe(true)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('random error objects never throw and always give a temporary, tls or invalid_request verdict', () => {
    const codes = fc.constantFrom(
      'ECONNREFUSED',
      'ECONNRESET',
      'ENOTFOUND',
      'UND_ERR_HEADERS_TIMEOUT',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'ERR_SSL_X',
      'UND_ERR_INVALID_ARG',
      'EWHATEVER',
    )
    const { error } = fc.letrec((tie) => ({
      error: fc.oneof(
        { depthSize: 'small' },
        fc.anything(),
        fc.record(
          {
            code: fc.oneof(codes, fc.anything()),
            name: fc.oneof(fc.constantFrom('TimeoutError', 'AbortError', 'Error'), fc.anything()),
            message: fc.string(),
            cause: tie('error'),
            errors: fc.oneof(fc.array(tie('error'), { maxLength: 3 }), fc.anything()),
          },
          { requiredKeys: [] },
        ),
      ),
    }))
    fc.assert(
      fc.property(error, (e) => {
        const result = classifyError(e)
        if (result.verdict === 'permanent') {
          expect(['tls', 'invalid_request']).toContain(result.reason)
          expect(typeof result.detail).toBe('string')
        } else {
          expect(result.verdict).toBe('retry')
          expect(result.detail).toBeUndefined()
        }
      }),
      { numRuns: 2000 },
    )
  })
})
