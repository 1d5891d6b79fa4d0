// Tests request ids: one event keeps its messageId; a batch's id is stable, order-sensitive and differs when its members differ.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { requestId } from '../request-id.js'

describe('request ids: one event is named by its messageId', () => {
  it('returns the messageId unchanged, whatever it looks like', () => {
    for (const id of ['ajs-next-1', 'batch_x_2_abc', '', 'ü 👋,\n'])
      expect(requestId([id])).toBe(id)
  })

  it('refuses a request with no events', () => {
    expect(() => requestId([])).toThrow(RangeError)
  })
})

describe('request ids: a batch is batch_<first messageId>_<count>_<hash of every messageId in order>', () => {
  const ids = ['ajs-next-1', 'ajs-next-2', 'ajs-next-3']

  it('has the documented form', () => {
    expect(requestId(ids)).toMatch(/^batch_ajs-next-1_3_[0-9a-z]{1,11}$/)
  })

  it('is the same on every call, in every release: a batch stored before an upgrade keeps its id', () => {
    // Pinned: a sender recomputes the id of a stored batch on each retry, so the hash may never change.
    expect(requestId(ids)).toBe('batch_ajs-next-1_3_z7dd6fyvwf')
    expect(requestId(['a', 'b'])).toBe('batch_a_2_253qu073bgu')
    expect(requestId([...ids])).toBe(requestId(ids))
  })

  it('depends on the order of the events', () => {
    expect(requestId(['ajs-next-1', 'ajs-next-3', 'ajs-next-2'])).not.toBe(requestId(ids))
    expect(requestId(['b', 'a'])).not.toBe(requestId(['a', 'b']))
  })

  it('differs when any member differs, is added or is left out, also with the same first event', () => {
    const others = [
      ['ajs-next-1', 'ajs-next-2', 'ajs-next-4'],
      ['ajs-next-1', 'ajs-next-2'],
      ['ajs-next-1', 'ajs-next-2', 'ajs-next-3', 'ajs-next-4'],
      ['ajs-next-1', 'ajs-next-2', 'ajs-next-3', 'ajs-next-3'],
    ]
    const all = [ids, ...others].map(requestId)
    expect(new Set(all).size).toBe(all.length)
  })

  it('tells apart ids that only differ in where one ends and the next begins', () => {
    expect(requestId(['x', 'ab', 'c'])).not.toBe(requestId(['x', 'a', 'bc']))
    expect(requestId(['x', 'a,b', 'c'])).not.toBe(requestId(['x', 'a', 'b,c']))
    expect(requestId(['x', '', 'a'])).not.toBe(requestId(['x', 'a', '']))
  })

  it('never gives two different lists of messageIds the same id (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.array(fc.string(), { minLength: 2, maxLength: 6 }), {
          minLength: 2,
          maxLength: 50,
          selector: (list) => JSON.stringify(list),
        }),
        (lists) => {
          const named = lists.map(requestId)
          expect(new Set(named).size).toBe(lists.length)
          expect(lists.map(requestId)).toEqual(named)
        },
      ),
    )
  })
})
