/** TLS failures end as `tls` dead letters whose detail says which check failed: real HTTPS servers, certificates made with the openssl CLI. */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { DeadEvent } from '../events.js'
import { webhookPlugin } from '../plugin.js'
import { testAnalytics } from './receiver.js'
import { storeFactories } from './stores.js'

/** A key and a certificate in PEM. */
interface Pem {
  readonly key: Buffer
  readonly cert: Buffer
}

/**
 * Certificates for one run, made with the openssl CLI in a temporary folder.
 * Leaves are issued with `openssl ca`, the one OpenSSL 3.0 command that sets
 * any validity period (`-startdate`/`-enddate`): `openssl x509 -req` and
 * `openssl req -x509` only count days from now, so they cannot make an
 * expired certificate.
 */
class TestPki {
  private serial = 0

  constructor(readonly dir: string) {}

  private run(args: string[]): void {
    execFileSync('openssl', args, { stdio: 'ignore' })
  }

  private path(name: string): string {
    return join(this.dir, name)
  }

  /** A P-256 key and a self-signed certificate; a CA when `ca` is true. */
  selfSigned(name: string, subjectAltName: string, ca = false): Pem {
    this.run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-addext',
      ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=critical,CA:FALSE',
      ...(ca ? ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'] : []),
      '-keyout',
      this.path(`${name}.key`),
      '-out',
      this.path(`${name}.pem`),
    ])
    return this.read(name)
  }

  /** A leaf for `subjectAltName`, signed by `issuer` (made by {@link selfSigned} with `ca`), valid from `start` to `end`. */
  issue(issuer: string, name: string, subjectAltName: string, start: Date, end: Date): Pem {
    this.run([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-keyout',
      this.path(`${name}.key`),
      '-out',
      this.path(`${name}.csr`),
    ])
    // A minimal CA: a fresh database and serial per leaf, the CSR's subjectAltName copied.
    const db = this.path(`${name}.index`)
    writeFileSync(db, '')
    writeFileSync(this.path(`${name}.serial`), `${(++this.serial).toString(16).padStart(2, '0')}\n`)
    writeFileSync(
      this.path(`${name}.cnf`),
      [
        '[ca]',
        'default_ca = test_ca',
        '[test_ca]',
        `database = ${db}`,
        `new_certs_dir = ${this.dir}`,
        `serial = ${this.path(`${name}.serial`)}`,
        'default_md = sha256',
        'policy = any_name',
        'copy_extensions = copy',
        'unique_subject = no',
        '[any_name]',
        'commonName = supplied',
        '',
      ].join('\n'),
    )
    this.run([
      'ca',
      '-batch',
      '-notext',
      '-config',
      this.path(`${name}.cnf`),
      '-cert',
      this.path(`${issuer}.pem`),
      '-keyfile',
      this.path(`${issuer}.key`),
      '-startdate',
      asn1Time(start),
      '-enddate',
      asn1Time(end),
      '-in',
      this.path(`${name}.csr`),
      '-out',
      this.path(`${name}.pem`),
    ])
    return this.read(name)
  }

  private read(name: string): Pem {
    return {
      key: readFileSync(this.path(`${name}.key`)),
      cert: readFileSync(this.path(`${name}.pem`)),
    }
  }
}

/** `openssl ca`'s date format: YYYYMMDDHHMMSSZ, in UTC. */
function asn1Time(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-:T]/g, '')}Z`
}

const DAY = 24 * 60 * 60 * 1000

describe.each(storeFactories)('TLS dead letters name the failure ($name store)', (factory) => {
  const dir = mkdtempSync(join(tmpdir(), 'aw-tls-'))
  const pki = new TestPki(dir)
  const now = Date.now()
  let trusted: Pem
  // The client trusts one CA, as a deployment trusts its roots; every case below fails one check.
  let dispatcher: Agent
  const cleanups: (() => Promise<unknown>)[] = []

  beforeAll(() => {
    trusted = pki.selfSigned('trusted-ca', 'DNS:trusted-ca.test', true)
    dispatcher = new Agent({ connect: { ca: trusted.cert } })
  })
  afterAll(async () => {
    await dispatcher.close()
    rmSync(dir, { recursive: true, force: true })
  })
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  /**
   * Serves `pem` over HTTPS on 127.0.0.1, sends one event to it through a
   * real analytics-node pipeline, and returns what was dead-lettered and how
   * many requests the server's handler saw.
   */
  async function deliverTo(
    pem: Pem,
  ): Promise<{ dead: DeadEvent[]; detail: string | null; reason: string; handled: number }> {
    let handled = 0
    const server = createServer(pem, (_req, res) => {
      handled++
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    const { port } = server.address() as AddressInfo

    const made = await factory.make()
    cleanups.push(() => made.cleanup())
    const store = made.connect()
    const plugin = webhookPlugin(
      { webhooks: [`https://127.0.0.1:${port}/hook?token=s3cret`], sharedSecret: 'tls-secret' },
      { store, dispatcher, pollIntervalMs: 200, retry: { baseDelayMs: 20, maxDelayMs: 100 } },
    )
    cleanups.push(async () => {
      await plugin.close()
      await store.close()
    })
    const dead: DeadEvent[] = []
    plugin.on('dead', (e) => dead.push(e))
    const analytics = testAnalytics()
    cleanups.push(() => analytics.closeAndFlush())
    await analytics.register(plugin)
    analytics.track({ userId: 'u1', event: 'E' })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    const letters = await store.listDead()
    expect(letters).toHaveLength(1)
    const [letter] = letters
    // Never the URL, its query's token, the port or the shared secret.
    for (const secret of ['s3cret', 'tls-secret', '127.0.0.1', `:${port}`, '/hook'])
      expect(letter?.detail).not.toContain(secret)
    expect(dead).toEqual([
      expect.objectContaining({ reason: letter?.reason, attempts: 1, detail: letter?.detail }),
    ])
    return { dead, detail: letter?.detail ?? null, reason: letter?.reason ?? '', handled }
  }

  it('a self-signed certificate', async () => {
    const result = await deliverTo(pki.selfSigned('self-signed', 'IP:127.0.0.1'))
    expect(result).toMatchObject({
      reason: 'tls',
      detail: 'webhooks[0]: tls: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
      handled: 0,
    })
  })

  it('a certificate from a CA the client does not trust', async () => {
    pki.selfSigned('unknown-ca', 'DNS:unknown-ca.test', true)
    const leaf = pki.issue(
      'unknown-ca',
      'from-unknown-ca',
      'IP:127.0.0.1',
      new Date(now - DAY),
      new Date(now + DAY),
    )
    const result = await deliverTo(leaf)
    expect(result).toMatchObject({
      reason: 'tls',
      detail: 'webhooks[0]: tls: unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      handled: 0,
    })
  })

  it('a trusted certificate for another host name', async () => {
    const leaf = pki.issue(
      'trusted-ca',
      'other-host',
      'DNS:example.com',
      new Date(now - DAY),
      new Date(now + DAY),
    )
    const result = await deliverTo(leaf)
    expect(result).toMatchObject({
      reason: 'tls',
      detail: 'webhooks[0]: tls: host name mismatch (ERR_TLS_CERT_ALTNAME_INVALID)',
      handled: 0,
    })
  })

  it('a trusted certificate that has expired', async () => {
    const leaf = pki.issue(
      'trusted-ca',
      'expired',
      'IP:127.0.0.1',
      new Date(now - 30 * DAY),
      new Date(now - DAY),
    )
    const result = await deliverTo(leaf)
    expect(result).toMatchObject({
      reason: 'tls',
      detail: 'webhooks[0]: tls: expired certificate (CERT_HAS_EXPIRED)',
      handled: 0,
    })
  })

  it('a trusted certificate that is not valid yet', async () => {
    const leaf = pki.issue(
      'trusted-ca',
      'not-yet-valid',
      'IP:127.0.0.1',
      new Date(now + DAY),
      new Date(now + 30 * DAY),
    )
    const result = await deliverTo(leaf)
    expect(result).toMatchObject({
      reason: 'tls',
      detail: 'webhooks[0]: tls: certificate not yet valid (CERT_NOT_YET_VALID)',
      handled: 0,
    })
  })

  it('the trusted CA is not the cause: a valid certificate it issued is delivered', async () => {
    const leaf = pki.issue(
      'trusted-ca',
      'valid',
      'IP:127.0.0.1',
      new Date(now - DAY),
      new Date(now + DAY),
    )
    let handled = 0
    const server = createServer(leaf, (_req, res) => {
      handled++
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    const { port } = server.address() as AddressInfo
    const response = await dispatcher.request({
      origin: `https://127.0.0.1:${port}`,
      path: '/',
      method: 'GET',
    })
    await response.body.dump()
    expect(response.statusCode).toBe(200)
    expect(handled).toBe(1)
  })
})
