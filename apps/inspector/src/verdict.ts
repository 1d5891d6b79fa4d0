/** The signature verdict the inspector shows for a delivery, decided by the verifier package. */

import {
  type VerifyOptions,
  verifyWebhook,
  WebhookVerificationError,
} from '@analytics-webhooks/verifier'

/** What the page shows about a delivery's signature. Never contains the secret. */
export interface SignatureVerdict {
  /**
   * `verified`: a signature matched the configured secret.
   * `mismatch`: signed, but not with the configured secret (or the body was changed).
   * `unsigned`: no signature header at all.
   * `invalid`: the verifier refused it for another reason (see `code`).
   * `unchecked`: signed, but the inspector has no secret to check it with.
   */
  readonly status: 'verified' | 'mismatch' | 'unsigned' | 'invalid' | 'unchecked'
  /** The verifier's error code, when it refused the delivery. */
  readonly code: string | null
  /** The signature scheme that verified (`classic` or `standard`). */
  readonly scheme: string | null
  /** One line for people: "verified (classic X-Signature)", "signature mismatch", … */
  readonly label: string
}

const SIGNATURE_HEADERS = ['x-signature', 'webhook-signature'] as const

/** Decides the verdict for one delivery's raw body and headers (node's `req.headers`). */
export type SignatureJudge = (
  body: Uint8Array,
  headers: Readonly<Record<string, string | string[] | undefined>>,
) => SignatureVerdict

/**
 * Makes the judge for the inspector's secrets (several during a rotation): it
 * checks each delivery with the verifier's synchronous core, on any scheme.
 *
 * @example
 * const judge = signatureJudge(['my-secret'], 1024 * 1024)
 * judge(rawBody, req.headers).status // 'verified'
 */
export function signatureJudge(secrets: readonly string[], maxBodyBytes: number): SignatureJudge {
  // One options object for every delivery: the verifier derives the keys once per object.
  const options: VerifyOptions | undefined =
    secrets.length > 0 ? { secret: [...secrets], scheme: 'auto', maxBodyBytes } : undefined
  return (body, headers) => judge(body, headers, options)
}

function judge(
  body: Uint8Array,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  options: VerifyOptions | undefined,
): SignatureVerdict {
  const signed = SIGNATURE_HEADERS.some((name) => headers[name] !== undefined)
  if (!signed) return verdict('unsigned', null, null, 'unsigned (no signature header)')
  if (options === undefined) {
    return verdict('unchecked', null, null, 'signed, not checked (the inspector has no secret)')
  }
  try {
    const { scheme, reserialized } = verifyWebhook(body, headers, options)
    const how = scheme === 'standard' ? 'Standard Webhooks' : 'classic X-Signature'
    // Worth a look: a sender that formats JSON its own way, or bytes changed on the way.
    const note = reserialized ? ', over the re-serialised body: the bytes received differ' : ''
    return verdict('verified', null, scheme, `verified (${how}${note})`)
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error
    if (error.code === 'signature_mismatch') {
      return verdict('mismatch', error.code, null, 'signature mismatch')
    }
    if (error.code === 'missing_signature') {
      return verdict('unsigned', error.code, null, 'unsigned (no signature header)')
    }
    return verdict('invalid', error.code, null, `rejected: ${error.code.replaceAll('_', ' ')}`)
  }
}

function verdict(
  status: SignatureVerdict['status'],
  code: string | null,
  scheme: string | null,
  label: string,
): SignatureVerdict {
  return { status, code, scheme, label }
}
