/** @analytics-webhooks/node-plugin: durable, signed webhook delivery for @segment/analytics-node. */

export {
  DESTINATION_NAME,
  type EventsInput,
  PayloadError,
  SettingsError,
  type Transform,
  WebhookError,
  type WebhookSettingsInput,
} from '@analytics-webhooks/core'
export { type PluginErrorCode, WebhookPluginError } from './errors.js'
export type {
  DeadEvent,
  DeliveredEvent,
  Listener,
  RetryEvent,
  WebhookPluginEvents,
} from './events.js'
export {
  type DrainResult,
  PLUGIN_VERSION,
  type PluginStats,
  type WebhookPlugin,
  type WebhookPluginOptions,
  webhookPlugin,
} from './plugin.js'
export {
  DB_PATH_ENV,
  defaultSqlitePath,
  openStore,
  SqliteQueueStore,
  type SqliteStoreOptions,
  type StoreOption,
} from './store/index.js'
export { isReplayable } from './store/replayable.js'
export { SqliteStoreError, type SqliteStoreErrorCode } from './store/sqlite/errors.js'
export type {
  ClaimedRequest,
  ClaimOptions,
  DeadCursor,
  DeadLetter,
  DeadListOptions,
  DeadSelection,
  KillUpdate,
  NewDelivery,
  QueueStats,
  QueueStore,
  ReplayResult,
  RetryUpdate,
  WorkerState,
  WorkerStateRow,
} from './store/types.js'
