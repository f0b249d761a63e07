import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKey } from '../../scripts/lib/dev-vars'
import { api, seedLicense, seedOwner } from '../support/licenses'
import { startWorker, TEST_SECRETS, type TestWorker } from '../support/worker'

/** The JWKS, key forms, rotation with TOKEN_SIGNING_KEY_PREVIOUS, TOKEN_TTL and PUBLIC_URL (docs/offline.md). */
let w: TestWorker
let owner: Awaited<ReturnType<typeof seedOwner>>

beforeAll(async () => {
  w = await startWorker()
  owner = await seedOwner(w)
})
afterAll(async () => { await w?.close() })

const thumbprint = (x: string) => createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url')
const publicX = (pkcs8Base64: string) => createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8Base64, 'base64'), format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x!

async function getJwks(path = '/.well-known/jwks.json') {
  const res = await fetch(`${w.url}${path}`)
  return { res, body: await res.json() as { keys: Record<string, string>[] } }
}

async function signedVerify(key: string) {
  const r = await api(w, 'verify', { key, signed: true })
  expect(r.status).toBe(200)
  return r.json.token as string
}

describe('JWKS', () => {
  it('both paths serve the current public key, cacheable, CORS open, no private part', async () => {
    const x = publicX(TEST_SECRETS.TOKEN_SIGNING_KEY)
    for (const path of ['/.well-known/jwks.json', '/api/v1/jwks.json']) {
      const { res, body } = await getJwks(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/)
      expect(res.headers.get('cache-control')).toBe('public, max-age=300')
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(body).toEqual({ keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: thumbprint(x), alg: 'EdDSA', use: 'sig' }] })
    }
  })

  it('HEAD and OPTIONS answer; other methods are 405 with Allow', async () => {
    expect((await fetch(`${w.url}/.well-known/jwks.json`, { method: 'HEAD' })).status).toBe(200)
    const pre = await fetch(`${w.url}/api/v1/jwks.json`, { method: 'OPTIONS' })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS')
    for (const path of ['/.well-known/jwks.json', '/api/v1/jwks.json']) {
      const res = await fetch(`${w.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
      expect(await res.json()).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Use GET' } })
    }
  })
})

describe('configuration', () => {
  it('iss is the request origin by default and PUBLIC_URL when set; TOKEN_TTL sets exp - iat', async () => {
    const { key } = await seedLicense(w, owner.id)
    expect(decodeJwt(await signedVerify(key)).iss).toBe(w.url)
    await w.reconfigure({ vars: { PUBLIC_URL: 'https://licenses.example.com/', TOKEN_TTL: '12h' } })
    const p = decodeJwt(await signedVerify(key))
    expect(p.iss).toBe('https://licenses.example.com')
    expect(p.exp! - p.iat!).toBe(12 * 3600)
    await w.reconfigure({ vars: { TOKEN_TTL: '900' } })
    const q = decodeJwt(await signedVerify(key))
    expect(q.exp! - q.iat!).toBe(900)
    await w.reconfigure({ vars: {} })
  })

  it('the key may be PKCS#8 PEM or a private JWK; the kid is the same thumbprint either way', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const x = publicKey.export({ format: 'jwk' }).x!
    const { key } = await seedLicense(w, owner.id)
    for (const form of [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), JSON.stringify(privateKey.export({ format: 'jwk' }))]) {
      await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: form } })
      expect(decodeProtectedHeader(await signedVerify(key)).kid).toBe(thumbprint(x))
      expect((await getJwks()).body.keys.map(k => k.kid)).toEqual([thumbprint(x)])
    }
    await w.reconfigure({})
  })

  it('no key, or an unusable one: signed answers and the JWKS are 503 UNAVAILABLE, unsigned answers still work', async () => {
    const { key } = await seedLicense(w, owner.id)
    for (const bad of ['', 'not-a-key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: publicX(TEST_SECRETS.TOKEN_SIGNING_KEY) })]) {
      await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: bad } })
      const r = await api(w, 'verify', { key, signed: true })
      expect(r.status).toBe(503)
      expect(r.json).toEqual({ error: { code: 'UNAVAILABLE', message: 'Signed answers are not configured on this server' } })
      expect((await getJwks()).res.status).toBe(503)
      expect((await api(w, 'verify', { key })).json.code).toBe('VALID')
    }
    await w.reconfigure({})
  })
})

describe('rotation with TOKEN_SIGNING_KEY_PREVIOUS', () => {
  it('tokens signed before and after both verify during the overlap; after it, only the new key does', async () => {
    const { key } = await seedLicense(w, owner.id, { expiresIn: '1y' })
    const oldKey = TEST_SECRETS.TOKEN_SIGNING_KEY
    const before = await signedVerify(key)
    const newKey = generateSigningKey()
    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: newKey, TOKEN_SIGNING_KEY_PREVIOUS: oldKey } })
    expect((await getJwks()).body.keys.map(k => k.kid)).toEqual([thumbprint(publicX(newKey)), thumbprint(publicX(oldKey))])
    const after = await signedVerify(key)
    expect(decodeProtectedHeader(before).kid).toBe(thumbprint(publicX(oldKey)))
    expect(decodeProtectedHeader(after).kid).toBe(thumbprint(publicX(newKey)))
    const overlap = createRemoteJWKSet(new URL(`${w.url}/.well-known/jwks.json`))
    for (const token of [before, after]) {
      const { payload } = await jwtVerify(token, overlap, { algorithms: ['EdDSA'], typ: 'lm-license+jwt', issuer: w.url })
      expect(payload.code).toBe('VALID')
    }
    // PREVIOUS may also be given as the public key alone.
    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: newKey, TOKEN_SIGNING_KEY_PREVIOUS: createPublicKey(createPrivateKey({ key: Buffer.from(oldKey, 'base64'), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'pem' }).toString() } })
    expect((await getJwks()).body.keys.map(k => k.kid)).toEqual([thumbprint(publicX(newKey)), thumbprint(publicX(oldKey))])

    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: newKey, TOKEN_SIGNING_KEY_PREVIOUS: '' } })
    const done = createRemoteJWKSet(new URL(`${w.url}/api/v1/jwks.json`))
    await expect(jwtVerify(before, done, { algorithms: ['EdDSA'] })).rejects.toThrow(errors.JWKSNoMatchingKey)
    await expect(jwtVerify(after, done, { algorithms: ['EdDSA'] })).resolves.toBeTruthy()
    await w.reconfigure({})
  })
})
