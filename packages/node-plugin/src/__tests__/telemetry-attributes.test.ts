/** What the HTTP conventions record about a webhook URL, and the traceparent values links are read from. */

import { describe, expect, it } from 'vitest'
import { redactUrl, targetAttributes } from '../telemetry/target.js'
import { formatTraceparent, parseTraceparent } from '../telemetry/traceparent.js'

describe('url.full', () => {
  it('redacts a user name and password as the conventions say', () => {
    expect(redactUrl('https://user:secret@hooks.example.com/in')).toBe(
      'https://REDACTED:REDACTED@hooks.example.com/in',
    )
    expect(redactUrl('https://user@hooks.example.com/in')).toBe(
      'https://REDACTED:REDACTED@hooks.example.com/in',
    )
  })

  it('redacts the values of signed-URL query parameters and keeps the rest as written', () => {
    expect(
      redactUrl(
        'https://hooks.example.com/in?sig=abc%2B1&x=a+b&Signature=s&AWSAccessKeyId=k&X-Goog-Signature=g&sigma=1',
      ),
    ).toBe(
      'https://hooks.example.com/in?sig=REDACTED&x=a+b&Signature=REDACTED&AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED&sigma=1',
    )
  })

  it('leaves a URL with nothing secret as it is', () => {
    expect(redactUrl('http://127.0.0.1:8080/hook?team=growth')).toBe(
      'http://127.0.0.1:8080/hook?team=growth',
    )
  })
})

describe('server.address and server.port', () => {
  it('take the scheme’s default port when the URL names none, and drop IPv6 brackets', () => {
    expect(targetAttributes('https://hooks.example.com/in', 'PUT')).toEqual({
      'http.request.method': 'PUT',
      'server.address': 'hooks.example.com',
      'server.port': 443,
      'url.full': 'https://hooks.example.com/in',
    })
    expect(targetAttributes('http://[::1]:9000/in', 'POST')).toMatchObject({
      'server.address': '::1',
      'server.port': 9000,
    })
    expect(targetAttributes('http://hooks.example.com/in', 'POST')['server.port']).toBe(80)
  })
})

describe('traceparent', () => {
  const value = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

  it('is read back into the span context it was written from', () => {
    const context = parseTraceparent(value)
    expect(context).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    })
    expect(formatTraceparent(context as NonNullable<typeof context>)).toBe(value)
    expect(
      formatTraceparent({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 }),
    ).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`)
  })

  it.each([
    ['absent', null],
    ['upper case', value.toUpperCase()],
    ['another version', `01${value.slice(2)}`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['an all-zero span id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['too short', value.slice(0, 54)],
  ])('is no link when %s', (_, bad) => {
    expect(parseTraceparent(bad)).toBeUndefined()
  })
})
