/** The batch scanner: the first element's exact bytes, whatever JSON it holds. */

import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { firstElementRange, verifyWebhook } from '../index.js'

const encoder = new TextEncoder()
const first = (text: string): string | undefined => {
  const bytes = encoder.encode(text)
  const range = firstElementRange(bytes)
  return range && new TextDecoder().decode(bytes.subarray(range[0], range[1]))
}

describe('firstElementRange', () => {
  it.each([
    ['[{"a":1},{"b":2}]', '{"a":1}'],
    [' \n[ \t{"a":"],}{[\\"\\\\"} ,2]', '{"a":"],}{[\\"\\\\"}'],
    ['[[1,[2]],3]', '[1,[2]]'],
    ['["x"]', '"x"'],
    ['[12.5e3 , 1]', '12.5e3'],
    ['[{"emoji":"👋é"}]', '{"emoji":"👋é"}'],
  ])('%s → %s', (body, element) => {
    expect(first(body)).toBe(element)
  })

  it.each(['', '{}', '[]', '[ ]', '[{"a":1}', '["unterminated]', '[,1]', 'x[1]'])(
    '%s → undefined',
    (body) => {
      expect(first(body)).toBeUndefined()
    },
  )

  it('finds JSON.stringify(array[0]) in JSON.stringify(array), for any JSON array', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1 }), (array) => {
        expect(first(JSON.stringify(array))).toBe(JSON.stringify(array[0]))
      }),
      { numRuns: 500 },
    )
  })

  it('any JSON batch signed over its first element verifies, compact or pretty-printed', () => {
    const event = fc.record({ type: fc.string(), data: fc.jsonValue() })
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (events, pretty) => {
          const body = pretty ? JSON.stringify(events, null, 2) : JSON.stringify(events)
          const signature = createHmac('sha1', 's3cret')
            .update(JSON.stringify(events[0]))
            .digest('hex')
          const result = verifyWebhook(body, { 'x-signature': signature }, { secret: 's3cret' })
          expect(result.events).toEqual(JSON.parse(body))
        },
      ),
      { numRuns: 300 },
    )
  })
})
