import { createHash, generateKeyPairSync } from 'node:crypto'
import { compactVerify, importJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { jwksOf, publicKeyOf, signingKey, SigningKeyError, signToken } from '../../server/lib/token-signing'

const pair = () => generateKeyPairSync('ed25519')
const thumbprint = (x: string) => createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url')

describe('TOKEN_SIGNING_KEY forms', () => {
  it('PKCS#8 PEM, PEM with literal \\n, base64 DER and a private JWK give the same key and kid', async () => {
    const { privateKey, publicKey } = pair()
    const x = publicKey.export({ format: 'jwk' }).x!
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const forms = [pem, pem.replace(/\n/g, '\\n'), privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'), privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64url'), JSON.stringify(privateKey.export({ format: 'jwk' }))]
    for (const form of forms) {
      const k = await signingKey(form)
      expect(k.kid).toBe(thumbprint(x))
      expect(k.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x, kid: thumbprint(x), alg: 'EdDSA', use: 'sig' })
      expect(k.privateKey.extractable).toBe(false)
    }
  })

  it('signs a JWS that the public JWK verifies', async () => {
    const { privateKey } = pair()
    const k = await signingKey(JSON.stringify(privateKey.export({ format: 'jwk' })))
    const token = await signToken(k, { a: 1 })
    const { protectedHeader, payload } = await compactVerify(token, await importJWK(k.publicJwk, 'EdDSA'))
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: k.kid, typ: 'lm-license+jwt' })
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ a: 1 })
  })

  it('refuses anything else with a SigningKeyError whose message holds no key material', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
    const { publicKey } = pair()
    const bad = ['', '   ', 'not-a-key', 'abcde', 'a'.repeat(63), Buffer.from('garbage bytes').toString('base64'), '{"kty":', '{"kty":"EC"}', JSON.stringify(ec.export({ format: 'jwk' })),
      ec.export({ type: 'pkcs8', format: 'pem' }).toString(), rsa.export({ type: 'pkcs8', format: 'pem' }).toString(),
      '-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----', JSON.stringify(publicKey.export({ format: 'jwk' })), publicKey.export({ type: 'spki', format: 'pem' }).toString()]
    for (const value of bad) {
      const error = await signingKey(value).then(() => null, (e: unknown) => e)
      expect(error, value).toBeInstanceOf(SigningKeyError)
      if (value.trim().length > 8) expect((error as Error).message).not.toContain(value.trim().slice(0, 8))
    }
  })

  it('the previous key may be a public key (JWK or SPKI PEM) or the old private key', async () => {
    const { privateKey, publicKey } = pair()
    const x = publicKey.export({ format: 'jwk' }).x!
    for (const form of [JSON.stringify(publicKey.export({ format: 'jwk' })), publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()]) {
      expect((await publicKeyOf(form)).kid).toBe(thumbprint(x))
    }
  })

  it('the JWKS lists the current key first, then the previous one, never twice and never with d', async () => {
    const current = pair().privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')
    const previous = pair().privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')
    const both = await jwksOf({ TOKEN_SIGNING_KEY: current, TOKEN_SIGNING_KEY_PREVIOUS: previous })
    expect(both.keys.map(k => k.kid)).toEqual([(await signingKey(current)).kid, (await publicKeyOf(previous)).kid])
    expect(JSON.stringify(both)).not.toContain('"d"')
    expect((await jwksOf({ TOKEN_SIGNING_KEY: current, TOKEN_SIGNING_KEY_PREVIOUS: current })).keys).toHaveLength(1)
    await expect(jwksOf({})).rejects.toBeInstanceOf(SigningKeyError)
  })
})
