/** Test helpers: signed bodies respelled as an attacker would (same JSON shape, other bytes), and a strict picture of parsed values. */

import { firstElementRange } from '../first-element.js'
import type { SignedRequest } from './signed.js'

/** A small seeded random source, so a failing case is reproduced from its seed. */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }
}

const SPACES = [' ', '\t', '\n', '\r', '  ', '\r\n']

/**
 * Writes `value` as JSON text with random respellings, each mutation class at
 * rate `rate`: whitespace between tokens; numbers as `1.0`, `1E2`, `-0`,
 * `1e400`; `null` as `1e400`; characters as `\u` escapes (either hex case)
 * and `/` as `\/`; object keys reordered; duplicate keys smuggled before or
 * after the real one. Some respellings keep the value, some change it (`-0`
 * for `0`, `1e400` for `null`): the verifier must refuse them or hand over
 * only what was signed.
 *
 * @example
 * respell({ a: null }, new Rng(1), 0.5) // e.g. '{ "a" :1e400}'
 */
export function respell(value: unknown, rng: Rng, rate: number): string {
  const space = () => (rng.chance(rate / 4) ? rng.pick(SPACES) : '')
  const write = (v: unknown): string => {
    if (v === null) return rng.chance(rate) ? rng.pick(['1e400', '-1e400', '1E999']) : 'null'
    if (typeof v === 'number') return rng.chance(rate) ? respellNumber(v, rng) : JSON.stringify(v)
    if (typeof v === 'string') return respellString(v, rng, rate)
    if (typeof v === 'boolean') return String(v)
    if (Array.isArray(v))
      return `[${space()}${v.map(write).join(`${space()},${space()}`)}${space()}]`
    const entries = Object.entries(v as Record<string, unknown>)
    if (entries.length > 1 && rng.chance(rate / 2)) {
      const i = Math.floor(rng.next() * entries.length)
      const j = Math.floor(rng.next() * entries.length)
      ;[entries[i], entries[j]] = [entries[j] as [string, unknown], entries[i] as [string, unknown]]
    }
    const members: string[] = []
    for (const [key, member] of entries) {
      const name = respellString(key, rng, rate)
      if (rng.chance(rate / 4)) {
        const smuggled = `${name}${space()}:${space()}${JSON.stringify(rng.pick(['attacker', 0, null, true]))}`
        // Before the real member, JSON.parse keeps the signed value; after it, the smuggled one.
        if (rng.chance(0.5)) members.push(smuggled, `${name}:${write(member)}`)
        else members.push(`${name}:${write(member)}`, smuggled)
      } else members.push(`${name}${space()}:${space()}${write(member)}`)
    }
    return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`
  }
  return `${space()}${write(value)}${space()}`
}

function respellNumber(n: number, rng: Rng): string {
  const text = JSON.stringify(n)
  const same = [`${text}.0`.replace(/(\.\d*)\.0$/, '$10'), `${text}E0`, `${text}e+0`, `${text}e-0`]
  if (Number.isInteger(n) && n !== 0) same.push(`${n / 100}E2`, `${n * 10}e-1`)
  if (n === 0) same.push('-0', '-0.0', '0e5', '0.000')
  const other = ['1e400', '-1e400', '-0', '1E2', '1.0']
  return rng.chance(0.7) ? rng.pick(same) : rng.pick(other)
}

function respellString(s: string, rng: Rng, rate: number): string {
  let out = '"'
  for (const char of JSON.stringify(s)
    .slice(1, -1)
    .match(/\\u[0-9a-f]{4}|\\.|[\s\S]/gu) ?? []) {
    if (char.length === 1 || (char.length === 2 && char[0] !== '\\')) {
      if (rng.chance(rate / 4)) {
        for (let i = 0; i < char.length; i++) {
          const hex = char.charCodeAt(i).toString(16).padStart(4, '0')
          out += `\\u${rng.chance(0.5) ? hex : hex.toUpperCase()}`
        }
      } else if (char === '/' && rng.chance(rate)) out += '\\/'
      else out += char
    } else out += char
  }
  return `${out}"`
}

/**
 * The bytes of `text`, sometimes with invalid UTF-8: a signed U+FFFD turned
 * into a lone 0xFF (it decodes back to U+FFFD), or a stray byte inserted.
 */
export function withInvalidUtf8(text: string, rng: Rng, rate: number): Buffer {
  let bytes = Buffer.from(text, 'utf8')
  if (rng.chance(rate)) {
    const at = bytes.indexOf(Buffer.from('\uFFFD', 'utf8'))
    if (at >= 0)
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.of(0xff), bytes.subarray(at + 3)])
  }
  if (rng.chance(rate / 4)) {
    const at = Math.floor(rng.next() * bytes.length)
    const stray = rng.pick([0x80, 0xc3, 0xff, 0xed])
    bytes = Buffer.concat([bytes.subarray(0, at), Buffer.of(stray), bytes.subarray(at)])
  }
  return bytes
}

/**
 * A signed request's body respelled: about one case in eight is sent as
 * signed, the others with random mutations of every class above.
 */
export function mutated(request: SignedRequest, seed: number): Buffer {
  const rng = new Rng(seed)
  if (rng.chance(0.125)) return Buffer.from(request.body, 'utf8')
  const rate = rng.pick([0.02, 0.1, 0.3])
  return withInvalidUtf8(respell(JSON.parse(request.body), rng, rate), rng, rate)
}

/**
 * A JSON value as a string that tells apart everything `toEqual` may not:
 * `-0` from `0`, `Infinity` from `null`, the order of keys, numbers from strings.
 *
 * @example
 * exact({ a: -0 }) === exact({ a: 0 }) // false
 */
export function exact(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number') return `number:${Object.is(v, -0) ? '-0' : String(v)}`
    if (typeof v === 'string') return `string:${v}`
    return v
  })
}

/** The text a request's classic or standard signature covers: the whole body, or a classic batch's first element. */
export function signedText(request: SignedRequest): string {
  if (request.headers['webhook-signature'] !== undefined || !request.body.startsWith('[')) {
    return request.body
  }
  const bytes = Buffer.from(request.body, 'utf8')
  const range = firstElementRange(bytes) as [number, number]
  return bytes.subarray(range[0], range[1]).toString('utf8')
}

/**
 * Checks what a handler was given for an accepted request against what was
 * signed: `events` parse exactly (per {@link exact}) from `raw`, and `raw` is
 * the signed text (for a classic batch: its first element is, the rest is
 * not covered by the classic signature).
 *
 * @returns a description of the first difference, or `undefined` when none
 */
export function unsignedDifference(
  request: SignedRequest,
  events: readonly unknown[],
  raw: string | Uint8Array,
): string | undefined {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')
  const signed = signedText(request)
  const parsed: unknown = JSON.parse(text)
  if (exact([parsed].flat()) !== exact(events)) return 'the events do not parse from the raw body'
  if (signed === request.body) {
    if (text !== signed) return `the raw body is not the signed text: ${text}`
    return undefined
  }
  const range = firstElementRange(Buffer.from(text, 'utf8'))
  const first =
    range === undefined
      ? undefined
      : Buffer.from(text, 'utf8')
          .subarray(...range)
          .toString('utf8')
  if (first !== signed) return `the raw batch's first event is not the signed text: ${first}`
  if (exact(events[0]) !== exact(JSON.parse(signed))) return 'events[0] is not the signed event'
  return undefined
}
