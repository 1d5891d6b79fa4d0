/** Reads one request header, case-insensitively, from a plain object, node's IncomingHttpHeaders or a `Headers`. */

/** Request headers in any of the shapes frameworks hand out. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>

/**
 * The value of header `name` (lower case), or `undefined`. Repeated values are
 * joined with a space; anything that is not a string is ignored.
 *
 * @example
 * readHeader({ 'X-Signature': 'ab12' }, 'x-signature') // 'ab12'
 */
export function readHeader(
  headers: HeaderSource | null | undefined,
  name: string,
): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined
  if (typeof (headers as { get?: unknown }).get === 'function' && !Array.isArray(headers)) {
    const value = (headers as { get(name: string): unknown }).get(name)
    return typeof value === 'string' ? value : undefined
  }
  const record = headers as Readonly<Record<string, unknown>>
  let value = Object.hasOwn(record, name) ? record[name] : undefined
  if (value === undefined) {
    for (const key in record) {
      if (key.length === name.length && Object.hasOwn(record, key) && key.toLowerCase() === name) {
        value = record[key]
        break
      }
    }
  }
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    const parts = value.filter((part): part is string => typeof part === 'string')
    return parts.length > 0 ? parts.join(' ') : undefined
  }
  return undefined
}
