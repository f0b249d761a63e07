import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKey } from '../../scripts/lib/dev-vars'
import { api, seedLicense, seedOwner, setLicense } from '../../tests/support/licenses'
import { startWorker, TEST_SECRETS, type TestWorker } from '../../tests/support/worker'
import { createProduct } from '../../server/services/products'
import { createProductSchema } from '../../shared/schemas/products'
import { FileStorage } from '../dist/file.js'
import { LicenseClient, MemoryStorage, type LicenseClientOptions } from '../dist/index.js'
import { TestProxy } from './support/proxy'

/**
 * The built SDK (sdk/dist) against the real built worker and its local D1, through a local proxy
 * that can cut the network or play an attacker.
 */
let w: TestWorker
let proxy: TestProxy
let owner: Awaited<ReturnType<typeof seedOwner>>
const dir = mkdtempSync(join(tmpdir(), 'lm-sdk-'))

beforeAll(async () => {
  w = await startWorker()
  owner = await seedOwner(w)
  proxy = new TestProxy(w.url)
  await proxy.start()
})
afterAll(async () => {
  await proxy?.stop()
  await w?.close()
  rmSync(dir, { recursive: true, force: true })
})
afterEach(async () => {
  proxy.reset()
  await proxy.start() // back on its port if a test stopped it
})

const client = (opts: Partial<LicenseClientOptions> = {}) => new LicenseClient({ baseUrl: proxy.url, issuer: w.url, retries: 0, timeoutMs: 5000, ...opts })
const license = async (input: Parameters<typeof seedLicense>[2] = {}) => await seedLicense(w, owner.id, input)
const HOUR = 3_600_000

describe('online', () => {
  it('activate, verify and deactivate: signed answers with the license, fresh nonces, nothing else trusted', async () => {
    const { key } = await license({ maxDevices: 2, expiresIn: '30d', metadata: { tier: 'pro' } })
    const c = client()
    const a = await c.activate(key, { fingerprint: 'laptop', name: 'Laptop' })
    expect(a).toMatchObject({ activated: true, valid: true, code: 'ACTIVATED', offline: false, devices: { used: 1, max: 2 }, license: { metadata: { tier: 'pro' }, devices: { used: 1, max: 2 } }, product: null })
    expect(a.token).toMatch(/^eyJ/)
    expect(a.expiresAt!.getTime()).toBe(decodeJwt(a.token!).exp! * 1000)
    const v = await c.verify(key, { fingerprint: 'laptop' })
    expect(v).toMatchObject({ valid: true, code: 'VALID', offline: false, license: { metadata: { tier: 'pro' } } })
    const d = await c.deactivate(key, { fingerprint: 'laptop' })
    expect(d).toEqual({ deactivated: true, code: 'DEACTIVATED', devices: { used: 0, max: 2 }, offline: false })
    expect((await c.verify(key, { fingerprint: 'laptop' })).code).toBe('DEVICE_NOT_ACTIVATED')
    // Every signed call asked for a token with a fresh nonce.
    const sent = proxy.log.filter(x => x.method === 'POST').map(x => JSON.parse(x.requestBody) as { nonce: string, signed?: boolean, key: string })
    expect(sent).toHaveLength(4)
    expect(new Set(sent.map(s => s.nonce)).size).toBe(4)
    for (const s of sent) expect(s.nonce).toMatch(/^[\w-]{22}$/)
    expect(sent.filter(s => s.signed === true)).toHaveLength(3) // deactivate has no token to ask for
  })

  it('NOT_FOUND and SUSPENDED are refusals; a negative signed answer drops the cached token', async () => {
    const { key, license: l } = await license()
    const storage = new MemoryStorage()
    const c = client({ storage })
    expect((await c.verify(key)).valid).toBe(true)
    await setLicense(w, l.id, { status: 'suspended' })
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'SUSPENDED', offline: false })
    await proxy.stop()
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'UNREACHABLE', offline: true })
    await proxy.start()
    const other = (await license()).key
    expect(await c.verify(other.replace(/.$/, other.endsWith('0') ? '1' : '0'))).toMatchObject({ valid: false, code: 'NOT_FOUND' })
  })

  it('retries a 503 with back-off, then answers', async () => {
    const { key } = await license()
    let failures = 2
    proxy.transform = () => (failures-- > 0 ? { status: 503, responseBody: '{"error":{"code":"UNAVAILABLE","message":"down"}}' } : undefined)
    const r = await client({ retries: 2, retryDelayMs: 50 }).verify(key)
    expect(r).toMatchObject({ valid: true, code: 'VALID' })
    expect(proxy.log.filter(x => x.path === '/api/v1/licenses/verify').map(x => x.status)).toEqual([503, 503, 200])
  })

  it('a request error is REQUEST_REFUSED with the server\'s code; bad arguments throw TypeError', async () => {
    const c = client()
    expect(await c.verify('x'.repeat(256), { fingerprint: 'f' })).toMatchObject({ valid: false, code: 'NOT_FOUND' })
    proxy.transform = x => (x.path.endsWith('/verify') ? { status: 400, responseBody: '{"error":{"code":"BAD_REQUEST","message":"\\"key\\" must not be empty"}}' } : undefined)
    expect(await c.verify('LM-anything')).toMatchObject({ valid: false, code: 'REQUEST_REFUSED', error: { code: 'BAD_REQUEST' } })
    await expect(c.verify('')).rejects.toThrow(TypeError)
    await expect(c.activate('LM-x', {} as { fingerprint: string })).rejects.toThrow(TypeError)
    expect(() => new LicenseClient({ baseUrl: 'ftp://example' })).toThrow(TypeError)
  })

  it('heartbeat sends key, fingerprint, a nonce and signed:true, and renews a floating seat\'s lease (docs/policies.md)', async () => {
    const { key } = await license({ leaseDuration: '15min', maxDevices: 2 })
    const c = client()
    const before = await c.heartbeat(key, { fingerprint: 'fp' })
    expect(before).toMatchObject({ alive: false, code: 'DEVICE_NOT_ACTIVATED' })
    expect(JSON.parse(proxy.log.findLast(x => x.path.endsWith('/heartbeat'))!.requestBody)).toMatchObject({ key, fingerprint: 'fp', signed: true, nonce: expect.stringMatching(/^[\w-]{22}$/) })
    expect((await c.activate(key, { fingerprint: 'fp' })).code).toBe('ACTIVATED')
    const r = await c.heartbeat(key, { fingerprint: 'fp' })
    expect(r).toMatchObject({ alive: true, code: 'ALIVE', devices: { used: 1, max: 2 } })
    expect(Date.parse(r.leaseExpiresAt!) - Date.now()).toBeGreaterThan(14 * 60_000)
  })
})

describe('offline', () => {
  it('server stopped: the cached token answers with offline:true until its exp, then OFFLINE_EXPIRED; a restart reads the file', async () => {
    const { key } = await license({ expiresIn: '1y' })
    const file = join(dir, 'cache.json')
    let now = Date.now()
    const c = client({ storage: new FileStorage(file), now: () => now })
    const online = await c.verify(key, {})
    expect(online.offline).toBe(false)
    const exp = online.expiresAt!.getTime()
    await proxy.stop()
    const off = await c.verify(key)
    expect(off).toMatchObject({ valid: true, code: 'VALID', offline: true, token: online.token, error: { code: 'UNREACHABLE' } })
    expect(off.expiresAt!.getTime()).toBe(exp)
    // A new process (new client, same file), still no server: the JWKS and token come from the file.
    now = exp - 60_000
    expect(await client({ storage: new FileStorage(file), now: () => now }).verify(key)).toMatchObject({ valid: true, offline: true })
    now = exp
    expect(await client({ storage: new FileStorage(file), now: () => now }).verify(key)).toMatchObject({ valid: false, code: 'OFFLINE_EXPIRED', offline: true })
    // The file holds no license key, in any form, and only its owner may read it.
    const text = readFileSync(file, 'utf8')
    expect(text).not.toContain(key)
    expect(text).not.toContain(key.replace(/-/g, '').slice(2))
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('nothing on the port and no cached token: UNREACHABLE; a hanging server times out', async () => {
    const { key } = await license()
    const nowhere = new LicenseClient({ baseUrl: 'http://127.0.0.1:9', retries: 1, retryDelayMs: 20 })
    expect(await nowhere.verify(key)).toMatchObject({ valid: false, code: 'UNREACHABLE', offline: true })
    proxy.transform = () => 'hang'
    const started = Date.now()
    expect(await client({ timeoutMs: 300 }).verify(key)).toMatchObject({ valid: false, code: 'UNREACHABLE', offline: true, error: { message: 'no answer within 300 ms' } })
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('clock moved back before the token\'s iat or the last time seen: CLOCK_TAMPERED, not trusted', async () => {
    const { key } = await license({ expiresIn: '1y' })
    let now = Date.now()
    const storage = new MemoryStorage()
    const c = client({ storage, now: () => now })
    const iat = (await c.verify(key)).issuedAt!.getTime()
    await proxy.stop()
    now = iat - 2 * HOUR
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'CLOCK_TAMPERED', offline: true })
    now = iat + 48 * HOUR // seen offline two days later…
    expect((await c.verify(key)).valid).toBe(true)
    now = iat + 24 * HOUR // …then the clock goes back a day: after iat, but before the last time seen
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'CLOCK_TAMPERED' })
    await proxy.start()
    // Online, a clock far behind the server's is reported too.
    now = Date.now() - 2 * HOUR
    expect(await client({ now: () => now }).verify(key)).toMatchObject({ valid: false, code: 'CLOCK_TAMPERED', offline: false })
  })
})

describe('attacks: the SDK refuses', () => {
  const dec = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString()) as Record<string, unknown>
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  const onVerify = (f: (body: Record<string, unknown>, x: { requestBody: string }) => Promise<unknown> | unknown) => {
    proxy.transform = async (x) => {
      if (!x.path.endsWith('/verify')) return
      return { responseBody: JSON.stringify(await f(JSON.parse(x.responseBody), x)) }
    }
  }

  it('a proxy rewriting "valid":false to true', async () => {
    const { key, license: l } = await license()
    await setLicense(w, l.id, { status: 'suspended' })
    proxy.transform = x => ({ responseBody: x.responseBody.replace('"valid":false', '"valid":true').replace('"SUSPENDED"', '"VALID"') })
    const r = await client().verify(key)
    expect(r).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', offline: false })
    expect(proxy.log.findLast(x => x.path.endsWith('/verify'))!.responseBody).toContain('"valid":true')
  })

  it('an unsigned "valid" answer (token stripped)', async () => {
    const { key } = await license()
    onVerify(({ token: _t, ...rest }) => rest)
    expect(await client().verify(key)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', error: { message: 'the answer is not signed' } })
  })

  it('altered payload or header, alg none, HS256 with the public key, an unknown kid', async () => {
    const { key, license: l } = await license()
    await setLicense(w, l.id, { status: 'suspended' })
    const jwks = await (await fetch(`${w.url}/.well-known/jwks.json`)).json() as { keys: { kid: string, x: string }[] }
    const forge: ((t: string) => Promise<string> | string)[] = [
      (t) => { const [h, p, s] = t.split('.'); return `${h}.${enc({ ...dec(p!), valid: true, code: 'VALID' })}.${s}` },
      (t) => { const [h, p, s] = t.split('.'); return `${enc({ ...dec(h!), typ: 'JWT' })}.${p}.${s}` },
      (t) => { const [h, p] = t.split('.'); return `${enc({ ...dec(h!), alg: 'none' })}.${enc({ ...dec(p!), valid: true, code: 'VALID' })}.` },
      async t => await new SignJWT({ ...decodeJwt(t), valid: true, code: 'VALID' }).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]!.kid, typ: 'lm-license+jwt' }).sign(base64url.decode(jwks.keys[0]!.x)),
      async t => await new SignJWT({ ...decodeJwt(t), valid: true, code: 'VALID' }).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]!.kid, typ: 'lm-license+jwt' }).sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0]))),
      async t => await new SignJWT({ ...decodeJwt(t), valid: true, code: 'VALID' }).setProtectedHeader({ alg: 'EdDSA', kid: 'attacker', typ: 'lm-license+jwt' }).sign(generateKeyPairSync('ed25519').privateKey),
      async t => await new SignJWT({ ...decodeJwt(t), valid: true, code: 'VALID' }).setProtectedHeader({ alg: 'EdDSA', kid: jwks.keys[0]!.kid, typ: 'lm-license+jwt' }).sign(generateKeyPairSync('ed25519').privateKey),
    ]
    for (const f of forge) {
      onVerify(async b => ({ ...b, valid: true, status: 'active', code: 'VALID', token: await f(b.token as string) }))
      const r = await client().verify(key)
      expect(r, String(f)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE' })
    }
  })

  it('a genuine token for another key (kh), answered to our nonce', async () => {
    const ours = (await license()).key
    const theirs = (await license()).key
    const s = await license()
    await setLicense(w, s.license.id, { status: 'suspended' })
    // Our key is suspended; the proxy asks the server about a valid key instead, with our nonce.
    proxy.rewriteRequest = (_path, body) => JSON.stringify({ ...JSON.parse(body), key: theirs })
    const r = await client().verify(s.key)
    expect(r).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', error: { message: 'the token is for another key' } })
    proxy.rewriteRequest = null
    expect((await client().verify(ours)).valid).toBe(true)
  })

  it('a token for another product', async () => {
    const { ctx } = w.context()
    const mobile = await createProduct(ctx, owner.id, createProductSchema.parse({ name: 'Mobile', slug: `mobile-${Date.now()}` }))
    const { key } = await license({ product: mobile.id })
    // Honest server: the key is for another product, so the answer is PRODUCT_MISMATCH (never signed).
    expect(await client({ product: 'desktop' }).verify(key)).toMatchObject({ valid: false, code: 'PRODUCT_MISMATCH', offline: false })
    expect(await client({ product: mobile.slug }).verify(key)).toMatchObject({ valid: true, code: 'VALID', product: mobile.slug })
    // An attacker drops "product" from the request: the server signs a genuine VALID token for the
    // key's own product, which the app (asking for "desktop") refuses by its product claim.
    proxy.rewriteRequest = (_path, body) => JSON.stringify({ ...JSON.parse(body), product: undefined })
    const r = await client({ product: 'desktop' }).verify(key)
    expect(r).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', error: { message: 'the token is for another product' } })
  })

  it('a replayed older answer (the VALID answer from before the license was suspended)', async () => {
    const { key, license: l } = await license()
    const c = client()
    expect((await c.verify(key)).valid).toBe(true)
    const recorded = proxy.log.findLast(x => x.path.endsWith('/verify'))!.responseBody
    await setLicense(w, l.id, { status: 'suspended' })
    proxy.transform = x => (x.path.endsWith('/verify') ? { responseBody: recorded } : undefined)
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', error: { message: 'the nonce differs: a replayed answer' } })
  })

  it('an expired token (the device clock is past its exp)', async () => {
    const { key } = await license()
    const t = (await client().verify(key)).expiresAt!.getTime()
    expect(await client({ now: () => t + 3 * HOUR }).verify(key)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', error: { message: 'the token has expired' } })
  })

  it('a fake server with its own JWKS: accepted only by a client that does not pin keys — pinned keys refuse it', async () => {
    const { key, license: l } = await license()
    await setLicense(w, l.id, { status: 'suspended' })
    const genuine = await (await fetch(`${w.url}/.well-known/jwks.json`)).json() as { keys: object[] }
    const attacker = generateKeyPairSync('ed25519')
    const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'fake', alg: 'EdDSA', use: 'sig' }
    proxy.transform = async (x) => {
      if (x.path === '/.well-known/jwks.json') return { responseBody: JSON.stringify({ keys: [attackerJwk] }) }
      if (!x.path.endsWith('/verify')) return
      const b = JSON.parse(x.responseBody) as { token: string }
      const token = await new SignJWT({ ...decodeJwt(b.token), valid: true, code: 'VALID' }).setProtectedHeader({ alg: 'EdDSA', kid: 'fake', typ: 'lm-license+jwt' }).sign(attacker.privateKey)
      return { responseBody: JSON.stringify({ ...b, valid: true, code: 'VALID', token }) }
    }
    expect((await client().verify(key)).valid).toBe(true) // why the README says: pin the keys (or use HTTPS)
    expect(await client({ publicKeys: genuine as never }).verify(key)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE' })
  })

  it('an altered cached token offline', async () => {
    const { key } = await license({ expiresIn: '1y' })
    const values = new Map<string, string>()
    const storage = { get: (n: string) => values.get(n) ?? null, set: (n: string, v: string) => void values.set(n, v), delete: (n: string) => void values.delete(n) }
    const c = client({ storage })
    await c.verify(key)
    const entry = [...values.keys()].find(k => k.startsWith('token:'))!
    const { token } = JSON.parse(values.get(entry)!) as { token: string }
    const [h, p, s] = token.split('.')
    values.set(entry, JSON.stringify({ token: `${h}.${enc({ ...dec(p!), exp: (dec(p!).exp as number) + 86_400 * 365 })}.${s}` }))
    await proxy.stop()
    expect(await c.verify(key)).toMatchObject({ valid: false, code: 'INVALID_RESPONSE', offline: true })
  })
})

describe('rotation', () => {
  it('tokens signed before and after a signing-key rotation both verify during the overlap, online and offline', async () => {
    const before = (await license({ expiresIn: '1y' })).key
    const after = (await license({ expiresIn: '1y' })).key
    const storage = new MemoryStorage()
    const c = client({ storage })
    const old = await c.verify(before)
    const oldKey = TEST_SECRETS.TOKEN_SIGNING_KEY
    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: generateSigningKey(), TOKEN_SIGNING_KEY_PREVIOUS: oldKey } })
    try {
      const fresh = await c.verify(after) // a kid the client has not seen: it fetches the JWKS again
      expect(fresh).toMatchObject({ valid: true, offline: false })
      expect(decodeProtectedHeader(fresh.token!).kid).not.toBe(decodeProtectedHeader(old.token!).kid)
      await proxy.stop()
      expect(await c.verify(before)).toMatchObject({ valid: true, offline: true, token: old.token })
      expect(await c.verify(after)).toMatchObject({ valid: true, offline: true, token: fresh.token })
    }
    finally {
      await w.reconfigure({})
    }
  })
})

describe('hygiene', () => {
  it('the built core uses no Node-only API and never logs', () => {
    for (const f of ['index.js', 'client.js', 'http.js', 'storage.js', 'token.js']) {
      const src = readFileSync(join(import.meta.dirname, '../dist', f), 'utf8')
      expect(src, f).not.toMatch(/\bnode:|\bprocess\.|\bBuffer\b|\brequire\(|\bconsole\./)
    }
    expect(readFileSync(join(import.meta.dirname, '../dist/file.js'), 'utf8')).not.toMatch(/\bconsole\./)
  })

  it('the direct route (no proxy) works too, with the default issuer', async () => {
    const { key } = await license()
    expect(await new LicenseClient({ baseUrl: `${w.url}/` }).verify(key)).toMatchObject({ valid: true, code: 'VALID' })
    expect((await api(w, 'verify', { key })).json.code).toBe('VALID')
  })
})
