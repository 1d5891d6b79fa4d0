/** Finds where a JSON array body starts and where its first element ends, without parsing the body. */

const SPACE = 0x20
const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === LF || byte === CR || byte === TAB
}

/**
 * `true` when the first non-whitespace byte is `[`: the body is a batch.
 *
 * @example
 * startsWithArray(new TextEncoder().encode(' [{"type":"track"}]')) // true
 */
export function startsWithArray(bytes: Uint8Array): boolean {
  let i = 0
  while (i < bytes.length && isSpace(bytes[i] as number)) i++
  return bytes[i] === OPEN_BRACKET
}

/**
 * The byte range `[start, end)` of the first element of a JSON array, exactly
 * as it appears in the body (surrounding whitespace excluded), or `undefined`
 * when the body is not an array, the array is empty, or the element never ends.
 * Strings, escapes and nesting are respected; nothing else is validated: the
 * signature check that follows is what decides.
 *
 * @example
 * const body = new TextEncoder().encode('[{"a":"],"},{"b":2}]')
 * firstElementRange(body) // [1, 11]: '{"a":"],"}'
 */
export function firstElementRange(bytes: Uint8Array): [number, number] | undefined {
  const length = bytes.length
  let i = 0
  while (i < length && isSpace(bytes[i] as number)) i++
  if (bytes[i] !== OPEN_BRACKET) return undefined
  i++
  while (i < length && isSpace(bytes[i] as number)) i++
  const start = i
  let depth = 0
  for (; i < length; i++) {
    const byte = bytes[i] as number
    if (byte === QUOTE) {
      // Skip the string: a backslash escapes the next byte, whatever it is.
      for (i++; i < length; i++) {
        const inner = bytes[i] as number
        if (inner === BACKSLASH) i++
        else if (inner === QUOTE) break
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (depth === 0) break
      depth--
    } else if (byte === COMMA && depth === 0) break
  }
  if (i >= length) return undefined
  let end = i
  while (end > start && isSpace(bytes[end - 1] as number)) end--
  return end > start ? [start, end] : undefined
}
