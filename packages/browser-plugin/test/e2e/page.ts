/** The end-to-end test page: analytics-next with the webhook plugin, configured from the query string, driven by Playwright. */

// From the module, not the index: the index reaches signing, which would then load with the page.
import { encodeEvent, type SegmentEvent } from '@analytics-webhooks/core/payload'
import type { Transform } from '@analytics-webhooks/core/transform'
import { AnalyticsBrowser, type CDNSettings, type Context } from '@segment/analytics-next'
import { type WebhookEventName, webhookPlugin } from '../../src/index.js'

/** What the page records of each report, for the test to read. */
export interface PageReport {
  name: WebhookEventName
  /** Core's reports: the ids of the request's events (their messageIds); `dropped`: its event's messageId. */
  ids: readonly string[]
  reason: string | undefined
  status: number | undefined
  /** `dead`: what was wrong with an invalid event. */
  detail?: string | null | undefined
}

/** What a call made through the page returns: the event's id and the body core says it must have. */
export interface SentEvent {
  messageId: string
  expected: string
}

/** The transforms a test can ask for by name (`?transform=`): a function cannot travel in a URL. */
const TRANSFORMS: Record<string, Transform> = {
  // Renames a field.
  rename: ({ anonymousId, ...payload }) => ({ ...payload, anonymous_id: anonymousId }),
  // Skips Heartbeat tracks, fails on Broken ones, sends the rest as they are.
  pick: (payload) => {
    if (payload.event === 'Heartbeat') return null
    if (payload.event === 'Broken') throw new Error('no mapping for Broken')
    return payload
  },
}

const query = new URLSearchParams(location.search)
const secret = query.get('secret')
const signature = query.get('signature') as 'classic' | 'standard' | 'both' | null
const plugin = webhookPlugin(
  {
    webhooks: query.getAll('hook'),
    headers: { 'X-Team': 'growth' },
    batchSize: Number(query.get('batchSize') ?? 1),
    ...(secret ? { sharedSecret: secret } : {}),
    ...(signature ? { signature } : {}),
    ...(query.has('events') ? { events: JSON.parse(query.get('events') as string) } : {}),
  },
  {
    storageKey: query.get('storageKey') ?? 'analytics-webhooks',
    ...(query.has('rate') ? { maxRequestsPerSecond: Number(query.get('rate')) } : {}),
    ...(query.has('transform') ? { transform: TRANSFORMS[query.get('transform') as string] } : {}),
  },
)
const reports: PageReport[] = []
for (const name of ['delivered', 'retry', 'dead', 'dropped', 'filtered'] as const) {
  plugin.on(name, (report) =>
    reports.push({
      name,
      ids: 'ids' in report ? report.ids : [report.messageId],
      reason: 'reason' in report ? report.reason : undefined,
      status: 'status' in report ? report.status : undefined,
      detail: 'detail' in report ? report.detail : undefined,
    }),
  )
}

// Settings inline and the Segment.io destination off: nothing is fetched from or sent to Segment.
const cdnSettings = { integrations: {}, metrics: { sampleRate: 0 } } as unknown as CDNSettings
const options = { integrations: { 'Segment.io': false } }
const registerLater = query.get('style') === 'register'
const analytics = AnalyticsBrowser.load(
  { writeKey: 'e2e', cdnSettings, ...(registerLater ? {} : { plugins: [plugin] }) },
  options,
)
const ready = (async () => {
  if (registerLater) await analytics.register(plugin)
  await analytics.ready()
})()

async function send(
  call: string,
  ...args: [string, Record<string, unknown>?, Record<string, unknown>?]
): Promise<SentEvent> {
  await ready
  let ctx: Context
  const [first, fields, callOptions] = args
  if (call === 'page') ctx = await analytics.page('Docs', first, fields)
  else if (call === 'screen') ctx = await analytics.screen('App', first, fields)
  else if (call === 'identify') ctx = await analytics.identify(first, fields)
  else if (call === 'track') ctx = await analytics.track(first, fields, callOptions)
  else if (call === 'alias') ctx = await analytics.alias(first, 'anon-previous')
  else if (call === 'group') ctx = await analytics.group(first, fields)
  else throw new Error(`unknown call ${call}`)
  return {
    messageId: ctx.event.messageId as string,
    expected: encodeEvent(ctx.event as SegmentEvent),
  }
}

Object.assign(window, {
  harness: { ready: () => ready, send, reports, flush: () => plugin.flush() },
})
