/** Types for the demo's Vite environment variables. */

/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The webhook URL the plugin posts to. Default `http://127.0.0.1:4000/hooks` (the inspector). */
  readonly VITE_HOOKS_URL?: string
  /** Demo only: a secret in a browser bundle is public. */
  readonly VITE_WEBHOOK_SECRET?: string
}
