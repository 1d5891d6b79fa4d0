// Makes a throwaway self-signed TLS certificate with node:crypto alone, so tests need no openssl binary or fixture key.

import { generateKeyPairSync, sign } from 'node:crypto'

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const length =
    body.length < 0x80
      ? [body.length]
      : body.length < 0x100
        ? [0x81, body.length]
        : [0x82, body.length >> 8, body.length & 0xff]
  return Buffer.concat([Buffer.from([tag, ...length]), body])
}

const sequence = (...parts: Buffer[]) => der(0x30, ...parts)
const set = (...parts: Buffer[]) => der(0x31, ...parts)
const ECDSA_WITH_SHA256 = der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]))
const COMMON_NAME = der(0x06, Buffer.from([0x55, 0x04, 0x03]))

/**
 * A version-1 X.509 certificate for `commonName`, signed by its own P-256 key,
 * valid from 2000 to 2049, as PEM.
 *
 * @example
 * const { cert, key } = selfSignedCertificate('localhost')
 * https.createServer({ cert, key })
 */
export function selfSignedCertificate(commonName: string): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const name = sequence(set(sequence(COMMON_NAME, der(0x0c, Buffer.from(commonName, 'utf8')))))
  const algorithm = sequence(ECDSA_WITH_SHA256)
  const tbs = sequence(
    der(0x02, Buffer.from([0x01])), // serial number
    algorithm,
    name, // issuer: itself
    sequence(der(0x17, Buffer.from('000101000000Z')), der(0x17, Buffer.from('491231235959Z'))),
    name, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
  )
  const signature = sign('sha256', tbs, privateKey)
  const certificate = sequence(tbs, algorithm, der(0x03, Buffer.from([0]), signature))
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? []
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}
