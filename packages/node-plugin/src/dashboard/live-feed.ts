/** Server-sent events as a web-standard `Response`: each page's live feed of the shared readings, ended when the page leaves or the dashboard closes. */

import type { QueueSampler, Sample } from './sampler.js'

const encoder = new TextEncoder()

/**
 * The open feeds of one dashboard. A feed starts with `snapshot` (the last
 * reading and the whole chart), then gets `sample` (a reading and the bar it
 * added) each time the shared sampler reads, so a page keeps up without
 * reloading and without a query of its own.
 *
 * @example
 * const feeds = new LiveFeeds(sampler)
 * return feeds.open(await sampler.current(), { queue: 'default' })
 */
export class LiveFeeds {
  private readonly sampler: QueueSampler
  private readonly ends = new Set<() => void>()

  constructor(sampler: QueueSampler) {
    this.sampler = sampler
  }

  /** A `text/event-stream` response that starts with `first` and `context`, then follows the sampler. */
  open(first: Sample, context: Record<string, unknown>, headers: Headers): Response {
    let stop: (() => void) | undefined
    let end: (() => void) | undefined
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        end = (): void => {
          stop?.()
          if (end) this.ends.delete(end)
          try {
            controller.close()
          } catch {
            // Already closed: the page left.
          }
        }
        const send = (event: string, data: unknown): void => {
          // JSON.stringify writes no raw newline, so the data fits on one `data:` line.
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`))
        }
        // A page whose connection drops tries again after 2 s.
        controller.enqueue(encoder.encode('retry: 2000\n\n'))
        send('snapshot', {
          ...context,
          intervalMs: this.sampler.intervalMs,
          since: this.sampler.since,
          chart: this.sampler.chart(),
          ...first,
        })
        stop = this.sampler.subscribe((sample) => send('sample', sample))
        this.ends.add(end)
      },
      // The page left (the adapter cancels the body when its connection closes).
      cancel: () => end?.(),
    })
    headers.set('content-type', 'text/event-stream; charset=utf-8')
    headers.set('cache-control', 'no-store, no-transform')
    return new Response(body, { status: 200, headers })
  }

  /** Ends every feed (the dashboard is closing). */
  close(): void {
    for (const end of [...this.ends]) end()
  }
}
