import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { base64url, compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { updateLicense } from '../../server/services/licenses'
import { createProduct, updateProduct } from '../../server/services/products'
import { createProductSchema, updateProductSchema } from '../../shared/schemas/products'
import { updateLicenseSchema } from '../../shared/schemas/licenses'
import { api, seedLicense, seedOwner, setLicense } from '../support/licenses'
import { startWorker, TEST_SECRETS, type TestWorker } from '../support/worker'

/**
 * Signed answers (docs/offline.md) checked the way a third party would: plain `jose` with
 * createRemoteJWKSet against /.well-known/jwks.json, nothing of ours.
 */
let w: TestWorker
let owner: Awaited<ReturnType<typeof seedOwner>>
let jwks: ReturnType<typeof createRemoteJWKSet>

beforeAll(async () => {
  w = await startWorker()
  owner = await seedOwner(w)
  jwks = createRemoteJWKSet(new URL(`${w.url}/.well-known/jwks.json`))
})
afterAll(async () => { await w?.close() })

const DAY = 86_400
/** kh, computed here independently: SHA-256 of the canonical body (no LM prefix, no dashes), base64url. */
const khOf = (key: string) => createHash('sha256').update(key.replace(/^LM-/, '').replace(/-/g, '')).digest('base64url')
/** The kid the server must use: RFC 7638 thumbprint of the test signing key's public half. */
const publicJwk = createPublicKey(createPrivateKey({ key: Buffer.from(TEST_SECRETS.TOKEN_SIGNING_KEY, 'base64'), format: 'der', type: 'pkcs8' })).export({ format: 'jwk' })
const expectedKid = createHash('sha256').update(JSON.stringify({ crv: publicJwk.crv, kty: publicJwk.kty, x: publicJwk.x })).digest('base64url')

/** What docs/offline.md tells a third party to check after jwtVerify. */
async function thirdPartyVerify(token: string, expect: { key: string, nonce?: string, product?: string | null }, at?: Date) {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { algorithms: ['EdDSA'], typ: 'lm-license+jwt', issuer: w.url, currentDate: at })
  if (payload.kh !== khOf(expect.key)) throw new Error('token is for another key')
  if (expect.nonce !== undefined && payload.nonce !== expect.nonce) throw new Error('nonce differs: a replayed answer')
  if (expect.product !== undefined && payload.product !== expect.product) throw new Error('token is for another product')
  return { payload, protectedHeader }
}

const nonce = () => base64url.encode(crypto.getRandomValues(new Uint8Array(16)))

describe('signed verify and activate', () => {
  it('verify: a compact EdDSA JWS with exactly the documented header and claims, checkable with plain jose', async () => {
    const { key } = await seedLicense(w, owner.id, { expiresIn: '1y', maxDevices: 3, metadata: { tier: 'pro' } })
    await api(w, 'activate', { key, fingerprint: 'fp-1' })
    const n = nonce()
    const before = Math.floor(Date.now() / 1000)
    const r = await api(w, 'verify', { key, fingerprint: 'fp-1', nonce: n, signed: true })
    expect(r.status).toBe(200)
    expect(Object.keys(r.json).sort()).toEqual(['code', 'license', 'nonce', 'status', 'token', 'valid'])
    expect(r.json).toMatchObject({ valid: true, code: 'VALID', nonce: n })
    expect(r.json.token.split('.')).toHaveLength(3)
    expect(decodeProtectedHeader(r.json.token)).toEqual({ alg: 'EdDSA', kid: expectedKid, typ: 'lm-license+jwt' })
    const { payload } = await thirdPartyVerify(r.json.token, { key, nonce: n, product: null })
    expect(Object.keys(payload).sort()).toEqual(['code', 'exp', 'fingerprint', 'iat', 'iss', 'kh', 'license', 'nbf', 'nonce', 'product', 'valid'])
    expect(payload).toMatchObject({ iss: w.url, code: 'VALID', valid: true, license: r.json.license, product: null, fingerprint: 'fp-1', nonce: n, kh: khOf(key) })
    expect(payload.iat).toBeGreaterThanOrEqual(before - 1)
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1)
    expect(payload.nbf).toBe(payload.iat)
    expect(payload.exp).toBe(payload.iat! + 7 * DAY) // TOKEN_TTL default; the license runs for a year
    // Nothing about the owner, the customer or internal ids.
    expect(JSON.stringify(payload)).not.toMatch(new RegExp(`${owner.id}|${owner.email}|lic_|usr_|dev_`))
    expect(r.json.token).not.toContain(key)
  })

  it('without a fingerprint or nonce the token has neither claim; kh ignores how the key was typed', async () => {
    const { key } = await seedLicense(w, owner.id)
    const typed = ` ${key.toLowerCase().replace(/-/g, ' ').replace(/^lm /, '').replace(/0/g, 'o').replace(/1/g, 'l')} `
    const r = await api(w, 'verify', { key: typed, signed: true })
    expect(r.json.code).toBe('VALID')
    expect(r.json).not.toHaveProperty('nonce')
    const { payload } = await thirdPartyVerify(r.json.token, { key })
    expect(payload).not.toHaveProperty('fingerprint')
    expect(payload).not.toHaveProperty('nonce')
    expect(payload.license).toEqual({ expiresAt: null, metadata: {}, devices: { used: 0, max: null } })
  })

  it('exp never passes the license expiry', async () => {
    const { key, license } = await seedLicense(w, owner.id, { expiresIn: '2d' })
    const r = await api(w, 'verify', { key, signed: true })
    const { payload } = await thirdPartyVerify(r.json.token, { key })
    expect(payload.exp).toBe(Math.floor(license.expiresAt!.getTime() / 1000))
    expect(payload.exp! - payload.iat!).toBeLessThan(2 * DAY + 1)
  })

  it('negative answers are signed too: SUSPENDED, DEVICE_NOT_ACTIVATED, and EXPIRED (whose token expired with the license)', async () => {
    const s = await seedLicense(w, owner.id)
    await setLicense(w, s.license.id, { status: 'suspended' })
    const suspended = await api(w, 'verify', { key: s.key, signed: true })
    expect((await thirdPartyVerify(suspended.json.token, { key: s.key })).payload).toMatchObject({ code: 'SUSPENDED', valid: false })

    const d = await seedLicense(w, owner.id)
    const notActivated = await api(w, 'verify', { key: d.key, fingerprint: 'nobody', signed: true })
    expect((await thirdPartyVerify(notActivated.json.token, { key: d.key })).payload).toMatchObject({ code: 'DEVICE_NOT_ACTIVATED', valid: false, fingerprint: 'nobody' })

    const past = new Date(Date.now() - 3 * DAY * 1000)
    const e = await seedLicense(w, owner.id, { expiresAt: past.toISOString() })
    const expired = await api(w, 'verify', { key: e.key, signed: true })
    expect(expired.json.code).toBe('EXPIRED')
    // The signature is good, but no JOSE library accepts it now: it is not usable offline.
    await expect(thirdPartyVerify(expired.json.token, { key: e.key })).rejects.toThrow(errors.JWTExpired)
    // exp is the license's expiry, before iat: no moment makes it current (nbf = iat).
    await expect(thirdPartyVerify(expired.json.token, { key: e.key }, new Date(past.getTime() - 1000))).rejects.toThrow(errors.JWTClaimValidationFailed)
    // Its signature still proves the answer (docs/offline.md: compactVerify, then read the claims).
    const { payload } = await compactVerify(expired.json.token, jwks, { algorithms: ['EdDSA'] })
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ code: 'EXPIRED', valid: false, exp: Math.floor(past.getTime() / 1000), kh: khOf(e.key) })
  })

  it('activate: ACTIVATED, ALREADY_ACTIVATED and DEVICE_LIMIT_REACHED are signed with the license as verify shows it', async () => {
    const { key } = await seedLicense(w, owner.id, { maxDevices: 1, expiresIn: '30d', metadata: { seats: 1 } })
    const n = nonce()
    const first = await api(w, 'activate', { key, fingerprint: 'a', name: 'Laptop', nonce: n, signed: true })
    expect(Object.keys(first.json).sort()).toEqual(['activated', 'code', 'devices', 'nonce', 'token'])
    const verified = await api(w, 'verify', { key, fingerprint: 'a' })
    const p1 = (await thirdPartyVerify(first.json.token, { key, nonce: n })).payload
    expect(p1).toMatchObject({ code: 'ACTIVATED', valid: true, fingerprint: 'a', nonce: n, license: verified.json.license })
    expect(p1.license).toMatchObject({ devices: { used: 1, max: 1 }, metadata: { seats: 1 } })
    const again = await api(w, 'activate', { key, fingerprint: 'a', signed: true })
    expect((await thirdPartyVerify(again.json.token, { key })).payload).toMatchObject({ code: 'ALREADY_ACTIVATED', valid: true })
    const full = await api(w, 'activate', { key, fingerprint: 'b', signed: true })
    expect(full.json.activated).toBe(false)
    expect((await thirdPartyVerify(full.json.token, { key })).payload).toMatchObject({ code: 'DEVICE_LIMIT_REACHED', valid: false, fingerprint: 'b', license: { devices: { used: 1, max: 1 } } })
  })

  it('NOT_FOUND and deactivate carry no token (nothing to bind it to / not a license state); the nonce is still echoed', async () => {
    const n = nonce()
    expect((await api(w, 'verify', { key: generateKey().key, nonce: n, signed: true })).json).toEqual({ valid: false, status: 'inactive', code: 'NOT_FOUND', nonce: n })
    expect((await api(w, 'activate', { key: generateKey().key, fingerprint: 'x', nonce: n, signed: true })).json).toEqual({ activated: false, code: 'NOT_FOUND', nonce: n })
    const { key } = await seedLicense(w, owner.id)
    await api(w, 'activate', { key, fingerprint: 'gone' })
    expect((await api(w, 'deactivate', { key, fingerprint: 'gone', nonce: n, signed: true })).json).toEqual({ deactivated: true, code: 'DEACTIVATED', devices: { used: 0, max: null }, nonce: n })
  })

  it('product: the license\'s product slug, from the same lookup (verify, activate, negative answers); a rename or move shows at once', async () => {
    const { ctx } = w.context()
    const product = await createProduct(ctx, owner.id, createProductSchema.parse({ name: 'Desktop Pro', slug: 'desktop-pro' }))
    const other = await createProduct(ctx, owner.id, createProductSchema.parse({ name: 'Mobile', slug: 'mobile' }))
    const { key, license } = await seedLicense(w, owner.id, {
      product: product.id, maxDevices: 1, customerEmail: 'buyer@example.com', customerName: 'Buyer Name', externalId: 'order-signed-1',
    })
    const claimOf = async (token: string) => (await thirdPartyVerify(token, { key })).payload.product

    const verified = await api(w, 'verify', { key, product: 'desktop-pro', signed: true })
    expect(verified.json.code).toBe('VALID')
    expect(await claimOf(verified.json.token)).toBe('desktop-pro')
    // Without "product" in the request the claim still names the license's product: the app checks it.
    expect(await claimOf((await api(w, 'verify', { key, signed: true })).json.token)).toBe('desktop-pro')
    const activated = await api(w, 'activate', { key, fingerprint: 'p-1', product: 'desktop-pro', signed: true })
    expect(activated.json.code).toBe('ACTIVATED')
    expect(await claimOf(activated.json.token)).toBe('desktop-pro')
    const full = await api(w, 'activate', { key, fingerprint: 'p-2', signed: true })
    expect(full.json.code).toBe('DEVICE_LIMIT_REACHED')
    expect(await claimOf(full.json.token)).toBe('desktop-pro')
    await setLicense(w, license.id, { status: 'suspended' })
    const suspended = await api(w, 'activate', { key, fingerprint: 'p-3', signed: true })
    expect(suspended.json.code).toBe('SUSPENDED')
    expect(await claimOf(suspended.json.token)).toBe('desktop-pro')
    await setLicense(w, license.id, { status: 'active' })

    // Nothing of the customer in the token (nor in the answer around it).
    for (const r of [verified, activated, full, suspended]) {
      const text = JSON.stringify(r.json) + new TextDecoder().decode(base64url.decode(r.json.token.split('.')[1]))
      expect(text).not.toMatch(/buyer@example\.com|Buyer Name|order-signed-1/)
    }

    // The slug is read by the lookup each time: a renamed product signs its new slug.
    await updateProduct(ctx, { all: true }, updateProductSchema.parse({ id: product.id, slug: 'desktop-pro-2' }))
    expect(await claimOf((await api(w, 'verify', { key, signed: true })).json.token)).toBe('desktop-pro-2')
    await updateLicense(ctx, { all: true }, updateLicenseSchema.parse({ id: license.id, product: other.id }))
    expect(await claimOf((await api(w, 'verify', { key, signed: true })).json.token)).toBe('mobile')
    await updateLicense(ctx, { all: true }, updateLicenseSchema.parse({ id: license.id, product: null }))
    expect(await claimOf((await api(w, 'verify', { key, signed: true })).json.token)).toBeNull()
  })

  it('PRODUCT_MISMATCH is never signed: no token, no license, no devices; the nonce is echoed', async () => {
    const { ctx } = w.context()
    const product = await createProduct(ctx, owner.id, createProductSchema.parse({ name: 'Editor', slug: 'editor' }))
    const { key } = await seedLicense(w, owner.id, { product: product.id })
    const n = nonce()
    expect((await api(w, 'verify', { key, product: 'not-editor', nonce: n, signed: true })).json).toEqual({ valid: false, status: 'inactive', code: 'PRODUCT_MISMATCH', nonce: n })
    expect((await api(w, 'activate', { key, fingerprint: 'm-1', product: 'not-editor', nonce: n, signed: true })).json).toEqual({ activated: false, code: 'PRODUCT_MISMATCH', nonce: n })
    expect((await api(w, 'deactivate', { key, fingerprint: 'm-1', product: 'not-editor', nonce: n, signed: true })).json).toEqual({ deactivated: false, code: 'PRODUCT_MISMATCH', nonce: n })
    // A license with no product is a mismatch for any product named.
    const plain = await seedLicense(w, owner.id)
    expect((await api(w, 'verify', { key: plain.key, product: 'editor', signed: true })).json).toEqual({ valid: false, status: 'inactive', code: 'PRODUCT_MISMATCH' })
  })

  it('unsigned answers echo a nonce and carry no token; signed: false is the same as absent', async () => {
    const { key } = await seedLicense(w, owner.id)
    expect((await api(w, 'verify', { key, nonce: 'n-1' })).json).toEqual({ valid: true, status: 'active', code: 'VALID', nonce: 'n-1', license: { expiresAt: null, metadata: {}, devices: { used: 0, max: null } } })
    expect((await api(w, 'verify', { key, signed: false })).json).not.toHaveProperty('token')
    expect((await api(w, 'activate', { key, fingerprint: 'q', nonce: 'n-2', signed: false })).json).toEqual({ activated: true, code: 'ACTIVATED', devices: { used: 1, max: null }, nonce: 'n-2' })
  })
})

describe('malformed nonce or signed: 400, and nothing changes', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['empty nonce', { nonce: '' }],
    ['129-character nonce', { nonce: 'n'.repeat(129) }],
    ['numeric nonce', { nonce: 12345 }],
    ['null nonce', { nonce: null }],
    ['object nonce', { nonce: { a: 1 } }],
    ['string signed', { signed: 'true' }],
    ['numeric signed', { signed: 1 }],
    ['null signed', { signed: null }],
  ]
  for (const [name, extra] of bad) {
    it(name, async () => {
      const { key, license } = await seedLicense(w, owner.id)
      for (const route of ['verify', 'activate', 'deactivate']) {
        const r = await api(w, route, { key, fingerprint: 'must-not-exist', ...extra })
        expect(r.status).toBe(400)
        expect(r.json).toEqual({ error: { code: 'BAD_REQUEST', message: expect.stringMatching(/"(nonce|signed)"/) } })
      }
      const rows = await w.context().ctx.db.select().from(devices).where(eq(devices.licenseId, license.id))
      expect(rows).toEqual([])
    })
  }

  it('a 128-character nonce is accepted and echoed exactly', async () => {
    const { key } = await seedLicense(w, owner.id)
    const n = 'ñ'.repeat(128)
    const r = await api(w, 'verify', { key, nonce: n, signed: true })
    expect(r.json.nonce).toBe(n)
    expect((await thirdPartyVerify(r.json.token, { key, nonce: n })).payload.nonce).toBe(n)
  })
})

describe('tokens that must not verify (plain jose, as a third party)', () => {
  let key: string
  let n: string
  let token: string
  beforeAll(async () => {
    key = (await seedLicense(w, owner.id, { expiresIn: '1y' })).key
    n = nonce()
    token = (await api(w, 'verify', { key, nonce: n, signed: true })).json.token
    await thirdPartyVerify(token, { key, nonce: n, product: null }) // the genuine one does
  })
  const parts = () => token.split('.') as [string, string, string]
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  const dec = (s: string) => JSON.parse(new TextDecoder().decode(base64url.decode(s))) as Record<string, unknown>

  it('payload altered (valid:false → true, a later exp, other metadata)', async () => {
    const suspended = await seedLicense(w, owner.id)
    await setLicense(w, suspended.license.id, { status: 'suspended' })
    const [sh, sp, ss] = ((await api(w, 'verify', { key: suspended.key, signed: true })).json.token as string).split('.')
    expect(dec(sp!)).toMatchObject({ valid: false, code: 'SUSPENDED' })
    await expect(thirdPartyVerify(`${sh}.${enc({ ...dec(sp!), valid: true, code: 'VALID' })}.${ss}`, { key: suspended.key })).rejects.toThrow(errors.JWSSignatureVerificationFailed)
    const [h, p, s] = parts()
    // Re-encoding the same claims gives the same bytes (the control), any change breaks the signature.
    await expect(thirdPartyVerify(`${h}.${enc(dec(p))}.${s}`, { key })).resolves.toBeTruthy()
    for (const change of [{ exp: (dec(p).exp as number) + 365 * DAY }, { license: { ...dec(p).license as object, metadata: { tier: 'enterprise' } } }, { kh: khOf(generateKey().key) }]) {
      await expect(thirdPartyVerify(`${h}.${enc({ ...dec(p), ...change })}.${s}`, { key })).rejects.toThrow(errors.JWSSignatureVerificationFailed)
    }
  })

  it('header altered (typ, an extra member)', async () => {
    const [h, p, s] = parts()
    await expect(thirdPartyVerify(`${enc({ ...dec(h), typ: 'JWT' })}.${p}.${s}`, { key })).rejects.toThrow()
    await expect(thirdPartyVerify(`${enc({ ...dec(h), x5u: 'https://evil.example' })}.${p}.${s}`, { key })).rejects.toThrow(errors.JWSSignatureVerificationFailed)
  })

  it('alg none', async () => {
    const [h, p] = parts()
    await expect(thirdPartyVerify(`${enc({ ...dec(h), alg: 'none' })}.${p}.`, { key })).rejects.toThrow()
  })

  it('HS256 with the public key as the HMAC secret', async () => {
    const { keys } = await (await fetch(`${w.url}/.well-known/jwks.json`)).json() as { keys: { x: string, kid: string }[] }
    const forged = await new SignJWT({ ...decodeJwt(token), valid: true })
      .setProtectedHeader({ alg: 'HS256', kid: keys[0]!.kid, typ: 'lm-license+jwt' })
      .sign(new TextEncoder().encode(JSON.stringify(keys[0])))
    await expect(thirdPartyVerify(forged, { key })).rejects.toThrow()
    const forgedRaw = await new SignJWT({ ...decodeJwt(token), valid: true })
      .setProtectedHeader({ alg: 'HS256', kid: keys[0]!.kid, typ: 'lm-license+jwt' })
      .sign(base64url.decode(keys[0]!.x))
    await expect(thirdPartyVerify(forgedRaw, { key })).rejects.toThrow()
  })

  it('an unknown kid, and a well-formed token signed by another Ed25519 key', async () => {
    const [h, p, s] = parts()
    await expect(thirdPartyVerify(`${enc({ ...dec(h), kid: 'not-our-kid' })}.${p}.${s}`, { key })).rejects.toThrow(errors.JWKSNoMatchingKey)
    const other = generateKeyPairSync('ed25519').privateKey
    const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'EdDSA', kid: expectedKid, typ: 'lm-license+jwt' }).sign(other)
    await expect(thirdPartyVerify(forged, { key })).rejects.toThrow(errors.JWSSignatureVerificationFailed)
  })

  it('a genuine token for another key (kh), another product, or an older answer (nonce)', async () => {
    const other = await seedLicense(w, owner.id)
    const otherToken = (await api(w, 'verify', { key: other.key, nonce: n, signed: true })).json.token
    await thirdPartyVerify(otherToken, { key: other.key, nonce: n })
    await expect(thirdPartyVerify(otherToken, { key, nonce: n })).rejects.toThrow('another key')
    await expect(thirdPartyVerify(token, { key, product: 'desktop-pro' })).rejects.toThrow('another product')
    await expect(thirdPartyVerify(token, { key, nonce: nonce() })).rejects.toThrow('replayed')
  })

  it('once exp has passed', async () => {
    const exp = (decodeJwt(token) as JWTPayload).exp!
    await expect(thirdPartyVerify(token, { key }, new Date((exp + 1) * 1000))).rejects.toThrow(errors.JWTExpired)
    await expect(thirdPartyVerify(token, { key }, new Date((exp - 60) * 1000))).resolves.toBeTruthy()
  })

  it('before nbf (a clock set far back)', async () => {
    const iat = decodeJwt(token).iat!
    await expect(thirdPartyVerify(token, { key }, new Date((iat - 3600) * 1000))).rejects.toThrow(errors.JWTClaimValidationFailed)
  })
})
