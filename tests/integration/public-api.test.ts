import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices, events, licenses } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { lookupQuery } from '../../server/services/validation'
import { api, seedLicense, seedOwner, setLicense } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let owner: Awaited<ReturnType<typeof seedOwner>>
/** Every response body, scanned at the end for anything sensitive. */
const bodies: string[] = []
const secrets: string[] = []

beforeAll(async () => {
  w = await startWorker()
  owner = await seedOwner(w)
  secrets.push(owner.email, owner.id)
})
afterAll(async () => { await w?.close() })

async function call(route: string, body: unknown, opts?: Parameters<typeof api>[3]) {
  const r = await api(w, route, body, opts)
  bodies.push(r.text)
  expect(r.headers.get('access-control-allow-origin')).toBe('*')
  return r
}

async function license(input: Parameters<typeof seedLicense>[2] = {}) {
  const l = await seedLicense(w, owner.id, input)
  secrets.push(l.key, l.key.replace(/-/g, ''), l.license.id)
  return l
}

const past = new Date(Date.now() - 86_400_000)

describe('POST /api/v1/licenses/verify', () => {
  it('VALID: the exact response shape, with expiry, metadata and devices', async () => {
    const { key } = await license({ expiresIn: '30d', maxDevices: 3, metadata: { tier: 'pro', seats: 3 } })
    const r = await call('verify', { key })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^application\/json/)
    expect(Object.keys(r.json).sort()).toEqual(['code', 'license', 'status', 'valid'])
    expect(r.json).toMatchObject({ valid: true, status: 'active', code: 'VALID', license: { metadata: { tier: 'pro', seats: 3 }, devices: { used: 0, max: 3 } } })
    expect(Object.keys(r.json.license).sort()).toEqual(['devices', 'expiresAt', 'metadata'])
    const expires = new Date(r.json.license.expiresAt).getTime()
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000)
  })

  it('perpetual and unlimited are null', async () => {
    const { key } = await license()
    const r = await call('verify', { key })
    expect(r.json.license).toEqual({ expiresAt: null, metadata: {}, devices: { used: 0, max: null } })
  })

  it('NOT_FOUND has no license object, for unknown keys and for garbage alike', async () => {
    for (const key of [generateKey().key, 'LM-AAAAA-AAAAA', 'not a key', 'x'.repeat(256), 'LM-00000-00000-00000-00000-00000-00001']) {
      const r = await call('verify', { key })
      expect(r.status).toBe(200)
      expect(r.json).toEqual({ valid: false, status: 'inactive', code: 'NOT_FOUND' })
    }
  })

  it('SUSPENDED, EXPIRED, and suspended-and-expired answers SUSPENDED (first match wins)', async () => {
    const suspended = await license()
    await setLicense(w, suspended.license.id, { status: 'suspended' })
    const expired = await license({ expiresAt: past })
    const both = await license({ expiresAt: past })
    await setLicense(w, both.license.id, { status: 'suspended' })
    expect((await call('verify', { key: suspended.key })).json).toMatchObject({ valid: false, status: 'inactive', code: 'SUSPENDED' })
    const e = await call('verify', { key: expired.key })
    expect(e.json).toMatchObject({ valid: false, status: 'inactive', code: 'EXPIRED' })
    expect(e.json.license.expiresAt).toBe(past.toISOString())
    expect((await call('verify', { key: both.key })).json.code).toBe('SUSPENDED')
    // Expiry is exact: expiresAt ≤ now is expired.
    const edge = await license({ expiresAt: new Date(Date.now() + 1500) })
    expect((await call('verify', { key: edge.key })).json.code).toBe('VALID')
    await new Promise(r => setTimeout(r, 1600))
    expect((await call('verify', { key: edge.key })).json.code).toBe('EXPIRED')
  })

  it('DEVICE_NOT_ACTIVATED for an unknown fingerprint; VALID for an activated one; an expired license says EXPIRED first', async () => {
    const { key } = await license({ maxDevices: 2 })
    expect((await call('verify', { key, fingerprint: 'pc-1' })).json).toMatchObject({ valid: false, status: 'inactive', code: 'DEVICE_NOT_ACTIVATED' })
    await call('activate', { key, fingerprint: 'pc-1' })
    expect((await call('verify', { key, fingerprint: 'pc-1' })).json).toMatchObject({ valid: true, code: 'VALID', license: { devices: { used: 1, max: 2 } } })
    const expired = await license({ expiresAt: past })
    expect((await call('verify', { key: expired.key, fingerprint: 'pc-1' })).json.code).toBe('EXPIRED')
  })

  it('normalises what customers type: case, spaces, missing dashes or prefix, O/I/L folding', async () => {
    const { key } = await license()
    const body = key.slice(3).replace(/-/g, '')
    const folded = body.replace(/0/g, 'O').replace(/1/g, () => (Math.random() < 0.5 ? 'I' : 'l'))
    const variants = [
      key.toLowerCase(),
      `  ${key}\n`,
      key.replace(/-/g, ' '),
      key.replace(/-/g, ''),
      body,
      `LM-${body}`,
      `lm ${body.match(/.{5}/g)!.join(' ')}`,
      `LM-${folded}`,
    ]
    for (const variant of variants) expect((await call('verify', { key: variant })).json.code, variant).toBe('VALID')
    // One mistyped symbol is caught by the check symbol.
    const typo = key.slice(0, -2) + (key.at(-2) === 'A' ? 'B' : 'A') + key.at(-1)
    expect((await call('verify', { key: typo })).json.code).toBe('NOT_FOUND')
  })

  it('ignores unknown fields', async () => {
    const { key } = await license()
    expect((await call('verify', { key, extra: { nested: [1, 2] }, owner: 'x' })).json.code).toBe('VALID')
  })
})

describe('POST /api/v1/licenses/activate', () => {
  it('ACTIVATED, ALREADY_ACTIVATED (idempotent, even when full), DEVICE_LIMIT_REACHED', async () => {
    const { key, license: l } = await license({ maxDevices: 2 })
    expect((await call('activate', { key, fingerprint: 'a', name: 'Work laptop' })).json).toEqual({ activated: true, code: 'ACTIVATED', devices: { used: 1, max: 2 } })
    expect((await call('activate', { key, fingerprint: 'a' })).json).toEqual({ activated: true, code: 'ALREADY_ACTIVATED', devices: { used: 1, max: 2 } })
    expect((await call('activate', { key, fingerprint: 'b' })).json).toEqual({ activated: true, code: 'ACTIVATED', devices: { used: 2, max: 2 } })
    expect((await call('activate', { key, fingerprint: 'c' })).json).toEqual({ activated: false, code: 'DEVICE_LIMIT_REACHED', devices: { used: 2, max: 2 } })
    expect((await call('activate', { key, fingerprint: 'b' })).json).toEqual({ activated: true, code: 'ALREADY_ACTIVATED', devices: { used: 2, max: 2 } })
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))
    expect(rows.map(r => r.fingerprint).sort()).toEqual(['a', 'b'])
    expect(rows.find(r => r.fingerprint === 'a')).toMatchObject({ name: 'Work laptop', ip: '198.18.0.1' })
  })

  it('unlimited licenses take any number of devices', async () => {
    const { key } = await license()
    for (let i = 0; i < 5; i++) expect((await call('activate', { key, fingerprint: `d${i}` })).json.code).toBe('ACTIVATED')
    expect((await call('verify', { key })).json.license.devices).toEqual({ used: 5, max: null })
  })

  it('NOT_FOUND (no devices), SUSPENDED and EXPIRED (with devices) activate nothing', async () => {
    expect((await call('activate', { key: generateKey().key, fingerprint: 'a' })).json).toEqual({ activated: false, code: 'NOT_FOUND' })
    const s = await license({ maxDevices: 1 })
    await setLicense(w, s.license.id, { status: 'suspended' })
    expect((await call('activate', { key: s.key, fingerprint: 'a' })).json).toEqual({ activated: false, code: 'SUSPENDED', devices: { used: 0, max: 1 } })
    const e = await license({ expiresAt: past })
    expect((await call('activate', { key: e.key, fingerprint: 'a' })).json).toEqual({ activated: false, code: 'EXPIRED', devices: { used: 0, max: null } })
  })

  it('is race-free: 20 concurrent activations on a 3-device license give exactly 3 ACTIVATED', async () => {
    const { key, license: l } = await license({ maxDevices: 3 })
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('activate', { key, fingerprint: `race-${i}` })))
    const codes = results.map(r => r.json.code)
    expect(codes.filter(c => c === 'ACTIVATED')).toHaveLength(3)
    expect(codes.filter(c => c === 'DEVICE_LIMIT_REACHED')).toHaveLength(17)
    const { ctx } = w.context()
    expect(await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))).toHaveLength(3)
  })

  it('is idempotent under concurrency: 20 activations of one fingerprint take one seat', async () => {
    const { key, license: l } = await license({ maxDevices: 3 })
    const results = await Promise.all(Array.from({ length: 20 }, () => call('activate', { key, fingerprint: 'same' })))
    const codes = results.map(r => r.json.code)
    expect(codes.filter(c => c === 'ACTIVATED')).toHaveLength(1)
    expect(codes.filter(c => c === 'ALREADY_ACTIVATED')).toHaveLength(19)
    expect(results.every(r => r.json.activated === true)).toBe(true)
    const { ctx } = w.context()
    expect(await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))).toHaveLength(1)
  })
})

describe('POST /api/v1/licenses/deactivate', () => {
  it('DEACTIVATED frees the seat; DEVICE_NOT_ACTIVATED; NOT_FOUND', async () => {
    const { key } = await license({ maxDevices: 1 })
    await call('activate', { key, fingerprint: 'a' })
    expect((await call('activate', { key, fingerprint: 'b' })).json.code).toBe('DEVICE_LIMIT_REACHED')
    expect((await call('deactivate', { key, fingerprint: 'a' })).json).toEqual({ deactivated: true, code: 'DEACTIVATED', devices: { used: 0, max: 1 } })
    expect((await call('deactivate', { key, fingerprint: 'a' })).json).toEqual({ deactivated: false, code: 'DEVICE_NOT_ACTIVATED', devices: { used: 0, max: 1 } })
    expect((await call('activate', { key, fingerprint: 'b' })).json.code).toBe('ACTIVATED')
    expect((await call('deactivate', { key: generateKey().key, fingerprint: 'a' })).json).toEqual({ deactivated: false, code: 'NOT_FOUND' })
  })

  it('works on suspended and expired licenses (frees the seat)', async () => {
    const s = await license({ maxDevices: 2 })
    await call('activate', { key: s.key, fingerprint: 'a' })
    await setLicense(w, s.license.id, { status: 'suspended' })
    expect((await call('deactivate', { key: s.key, fingerprint: 'a' })).json).toMatchObject({ deactivated: true, code: 'DEACTIVATED', devices: { used: 0 } })
    const e = await license({ maxDevices: 2 })
    await call('activate', { key: e.key, fingerprint: 'a' })
    await setLicense(w, e.license.id, { expiresAt: past })
    expect((await call('deactivate', { key: e.key, fingerprint: 'a' })).json.code).toBe('DEACTIVATED')
  })
})

describe('protocol errors', () => {
  const url = (path: string) => `${w.url}${path}`
  async function raw(path: string, init: RequestInit) {
    const res = await fetch(url(path), init)
    const text = await res.text()
    bodies.push(text)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null }
  }
  const post = (body: BodyInit, contentType: string | null = 'application/json', path = '/api/v1/licenses/verify') =>
    raw(path, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body })

  it('400 BAD_REQUEST: malformed JSON, not an object, wrong types, missing, empty or over-long fields', async () => {
    const bad: Array<[string, BodyInit]> = [
      ['verify', '{"key":'], ['verify', 'null'], ['verify', '[]'], ['verify', '"LM-X"'], ['verify', '42'], ['verify', ''],
      ['verify', JSON.stringify({})], ['verify', JSON.stringify({ key: 42 })], ['verify', JSON.stringify({ key: '' })],
      ['verify', JSON.stringify({ key: 'x'.repeat(257) })], ['verify', JSON.stringify({ key: 'LM', fingerprint: '' })],
      ['verify', JSON.stringify({ key: 'LM', fingerprint: ['a'] })], ['verify', JSON.stringify({ key: null })],
      ['activate', JSON.stringify({ key: 'LM' })], ['activate', JSON.stringify({ key: 'LM', fingerprint: 'a', name: 'n'.repeat(129) })],
      ['activate', JSON.stringify({ key: 'LM', fingerprint: 'x'.repeat(257) })], ['deactivate', JSON.stringify({ fingerprint: 'a' })],
      ['verify', JSON.stringify({ ['__proto__']: { key: 'LM' } })],
    ]
    for (const [route, body] of bad) {
      const r = await post(body, 'application/json', `/api/v1/licenses/${route}`)
      expect(r.status, String(body)).toBe(400)
      expect(r.json.error.code).toBe('BAD_REQUEST')
      expect(typeof r.json.error.message).toBe('string')
    }
  })

  it('accepts JSON with parameters such as charset', async () => {
    expect((await post(JSON.stringify({ key: 'LM-AAAAA' }), 'application/json; charset=utf-8')).status).toBe(200)
  })

  it('415 UNSUPPORTED_MEDIA_TYPE for a missing or non-JSON content type', async () => {
    for (const ct of [null, 'text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'multipart/form-data']) {
      const r = await post(JSON.stringify({ key: 'LM' }), ct)
      expect(r.status, String(ct)).toBe(415)
      expect(r.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE')
    }
  })

  it('413 PAYLOAD_TOO_LARGE over 8 KiB', async () => {
    const r = await post(JSON.stringify({ key: 'LM', pad: 'x'.repeat(9000) }))
    expect(r.status).toBe(413)
    expect(r.json.error.code).toBe('PAYLOAD_TOO_LARGE')
    expect((await post(JSON.stringify({ key: 'LM-AAAAA', pad: 'x'.repeat(8000) }))).status).toBe(200)
  })

  it('405 METHOD_NOT_ALLOWED with Allow', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const r = await raw('/api/v1/licenses/verify', { method })
      expect(r.status).toBe(405)
      expect(r.headers.get('allow')).toBe('POST, OPTIONS')
      expect(r.json.error.code).toBe('METHOD_NOT_ALLOWED')
    }
  })

  it('404 ROUTE_NOT_FOUND under /api/v1', async () => {
    // (/api/v1/licenses and /api/v1/licenses/{id} are the management API's: tests/integration/management-api.test.ts.)
    for (const path of ['/api/v1/nope', '/api/v1/nope/deeper', '/api/v1/licenses/verify/extra', '/api/v1/licenses/lic_x/devices']) {
      const r = await raw(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(r.status, path).toBe(404)
      expect(r.json.error.code).toBe('ROUTE_NOT_FOUND')
    }
  })

  it('GET /api/v1/health answers 200 (and ?deep=1 checks the database), no limits, no secrets', async () => {
    for (const [path, body] of [['/api/v1/health', { ok: true }], ['/api/v1/health?deep=1', { ok: true, database: 'ok', eventsLost: 0 }]] as const) {
      const res = await fetch(`${w.url}${path}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(body)
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('ratelimit-limit')).toBeNull()
    }
    // Another method on the health path is 405 with Allow, as on every other route.
    const post = await fetch(`${w.url}/api/v1/health`, { method: 'POST' })
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD, OPTIONS'])
  })

  it('OPTIONS preflight answers 204 with CORS headers', async () => {
    const res = await fetch(url('/api/v1/licenses/activate'), { method: 'OPTIONS', headers: { 'origin': 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-methods')).toContain('POST')
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type')
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
  })
})

describe('audit and secrecy', () => {
  it('records every call with route, code, IP, user agent and license, off the response path', async () => {
    const { key, license: l } = await license()
    await call('verify', { key }, { ip: '203.0.113.200' })
    await call('verify', { key: generateKey().key }, { ip: '203.0.113.200' })
    const { ctx } = w.context()
    let rows: (typeof events.$inferSelect)[] = []
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      rows = await ctx.db.select().from(events).where(eq(events.ip, '203.0.113.200'))
      await new Promise(r => setTimeout(r, 50))
    }
    expect(rows.map(r => [r.type, r.outcome, r.subjectId, r.ownerId, r.userAgent, r.actorType]).sort()).toEqual([
      ['validation.verify', 'NOT_FOUND', null, null, 'contract-test', 'api'],
      ['validation.verify', 'VALID', l.id, owner.id, 'contract-test', 'api'],
    ].sort())
  })

  it('the lookup is one indexed read (query plan of the very query verify runs)', async () => {
    const { ctx } = w.context()
    for (const digests of [['d1'], ['d1', 'd2']]) {
      const q = lookupQuery(ctx.db, digests, 'fp').toSQL()
      const plan = await w.env.DB.prepare(`explain query plan ${q.sql}`).bind(...q.params).all()
      const details = (plan.results as { detail: string }[]).map(r => r.detail).join('\n')
      expect(details, details).toMatch(/SEARCH licenses USING INDEX licenses_key_digest_unique \(key_digest=\?\)/)
      // Whether this fingerprint holds a seat: the unique index, then its row's lease (docs/policies.md).
      expect(details, details).toMatch(/SEARCH d USING INDEX devices_license_fingerprint_unique \(license_id=\? AND fingerprint=\?\)/)
      // How many devices hold a seat: from an index alone.
      expect(details, details).toMatch(/SEARCH d USING COVERING INDEX devices_license_fingerprint_lease_idx \(license_id=\?\)/)
      // The owner's webhook endpoints (is anyone subscribed to license.validated?) by index too;
      // json_each walks one endpoint's small list of event types, not a table.
      expect(details, details).toMatch(/SEARCH e USING INDEX webhook_endpoints_owner_created_idx \(owner_id=\?\)/)
      expect(details.replace(/SCAN json_each VIRTUAL TABLE.*/g, '')).not.toMatch(/SCAN/)
    }
  })

  it('no response ever contained an owner, email, id, key or digest', async () => {
    const { ctx } = w.context()
    for (const l of await ctx.db.select({ d: licenses.keyDigest, c: licenses.keyCiphertext }).from(licenses)) secrets.push(l.d, l.c)
    const all = bodies.join('\n')
    expect(bodies.length).toBeGreaterThan(60)
    for (const s of secrets) expect(all.includes(s), `response leaked ${s.slice(0, 8)}…`).toBe(false)
    expect(all).not.toMatch(/lic_|usr_|dev_|evt_|owner|email|stack/i)
  })
})
