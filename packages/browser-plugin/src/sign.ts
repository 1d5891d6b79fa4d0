/** Signing in the page, loaded with import() on its first signed request: core's signature headers, and the warning that a secret in a browser is public. */

// Once per page: a module is evaluated once. Here rather than where the plugin is created, so
// that the text is in the chunk only pages with a secret load.
console.warn(
  '[analytics-webhooks] a sharedSecret in a browser is public: sign at a server relay instead (see the README)',
)

export { signatureHeaders } from '@analytics-webhooks/core/signing'
