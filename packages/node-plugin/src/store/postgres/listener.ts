/** The PostgreSQL store's wakeups: one `LISTEN` connection, its reconnect with backoff, and the subscribers it calls. */

import pg from 'pg'
import { describeError, PostgresStoreError } from './errors.js'

/** The first wait before listening again after the connection drops; it doubles on each failure. */
const FIRST_RECONNECT_MS = 100
/** The longest wait between reconnect attempts. */
const MAX_RECONNECT_MS = 5_000

type Subscriber = () => void

/**
 * Listens on one channel through one dedicated connection (not from the
 * pool), while anyone is subscribed, and calls a queue's subscribers when a
 * notification names it. When the connection drops it reconnects, waiting
 * 100 ms then twice as long after each failure (at most 5 s), and then calls
 * every subscriber once, since notifications may have been missed.
 *
 * @example
 * const wakeups = new WakeupListener(pool.options, 'aw_wake_analytics_webhooks')
 * const stop = await wakeups.subscribe('default', () => console.log('deliveries are due'))
 * await stop()
 */
export class WakeupListener {
  private readonly config: pg.ClientConfig
  private readonly channel: string
  private readonly subscribers = new Map<string, Set<Subscriber>>()
  private client: pg.Client | null = null
  private starting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | null = null
  private reconnectDelayMs = FIRST_RECONNECT_MS
  private closed = false

  constructor(config: pg.ClientConfig, channel: string) {
    this.config = config
    this.channel = channel
  }

  /**
   * Calls `onWake` on each notification naming `queue`, and after each
   * reconnect. Resolves once listening (`PostgresStoreError`
   * `connection_failed` if it cannot); the returned function unsubscribes, and
   * the last unsubscribe closes the connection.
   */
  async subscribe(queue: string, onWake: () => void): Promise<() => Promise<void>> {
    let set = this.subscribers.get(queue)
    if (!set) {
      set = new Set()
      this.subscribers.set(queue, set)
    }
    const subscriber: Subscriber = () => onWake()
    set.add(subscriber)
    try {
      await this.start()
    } catch (error) {
      set.delete(subscriber)
      throw error
    }
    return async () => {
      const current = this.subscribers.get(queue)
      current?.delete(subscriber)
      if (current && current.size === 0) this.subscribers.delete(queue)
      if (this.subscribers.size === 0) await this.stop()
    }
  }

  /** Drops every subscriber and closes the connection for good. */
  async close(): Promise<void> {
    this.closed = true
    this.subscribers.clear()
    await this.stop()
  }

  private start(): Promise<void> {
    if (this.client) return Promise.resolve()
    if (this.starting) return this.starting
    this.starting = this.connect().finally(() => {
      this.starting = null
    })
    return this.starting
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config)
    client.on('error', () => this.onLost(client))
    client.on('end', () => this.onLost(client))
    client.on('notification', (message) => {
      const set = message.payload === undefined ? undefined : this.subscribers.get(message.payload)
      if (set) for (const subscriber of [...set]) subscriber()
    })
    try {
      await client.connect()
      await client.query(`LISTEN "${this.channel}"`)
    } catch (error) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      throw new PostgresStoreError(
        'connection_failed',
        `Cannot listen for wakeups: ${describeError(error)}`,
        {
          cause: error,
        },
      )
    }
    if (this.closed || this.subscribers.size === 0) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      return
    }
    this.client = client
    this.reconnectDelayMs = FIRST_RECONNECT_MS
  }

  private onLost(client: pg.Client): void {
    if (this.client !== client) return
    this.client = null
    client.removeAllListeners('end')
    client.end().catch(() => {})
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed || this.subscribers.size === 0 || this.reconnectTimer) return
    const delay = this.reconnectDelayMs
    this.reconnectDelayMs = Math.min(delay * 2, MAX_RECONNECT_MS)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.start().then(
        () => {
          // Notifications sent while we were away are lost: let every subscriber look for work.
          for (const set of this.subscribers.values())
            for (const subscriber of [...set]) subscriber()
        },
        () => this.scheduleReconnect(),
      )
    }, delay)
    this.reconnectTimer.unref()
  }

  private async stop(): Promise<void> {
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
    if (this.starting) await this.starting.catch(() => {})
    const client = this.client
    this.client = null
    if (!client) return
    client.removeAllListeners('end')
    await client.end().catch(() => {})
  }
}
