/** Server-sent events: the page's live feed of deliveries and mode changes. */

import type { ServerResponse } from 'node:http'
import { CORS_HEADERS } from './cors.js'

const HEARTBEAT_MS = 15_000

/**
 * The set of open `text/event-stream` responses. `open` starts one, `send`
 * writes an event to all of them, `close` ends them (so the server can stop).
 *
 * @example
 * const streams = new EventStreams()
 * streams.open(res, [{ event: 'hello', data: snapshot }])
 * streams.send('delivery', delivery)
 */
export class EventStreams {
  private readonly open_ = new Set<ServerResponse>()
  private heartbeat: NodeJS.Timeout | undefined

  /** Starts a stream on `res` and writes the first events to it. */
  open(res: ServerResponse, first: ReadonlyArray<{ event: string; data: unknown }>): void {
    res.writeHead(200, {
      ...CORS_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    })
    // Tell EventSource to reconnect after 1 s if the inspector restarts.
    res.write('retry: 1000\n\n')
    for (const { event, data } of first) res.write(format(event, data))
    this.open_.add(res)
    res.on('close', () => this.open_.delete(res))
    this.heartbeat ??= setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS).unref()
  }

  /** Writes one event to every open stream. */
  send(event: string, data: unknown): void {
    if (this.open_.size > 0) this.write(format(event, data))
  }

  /** How many pages are listening. */
  get size(): number {
    return this.open_.size
  }

  /** Ends every stream. */
  close(): void {
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    for (const res of this.open_) res.end()
    this.open_.clear()
  }

  private write(text: string): void {
    for (const res of this.open_) res.write(text)
  }
}

function format(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so the data fits on one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
