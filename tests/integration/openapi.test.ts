import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKey } from '../../server/lib/keys'
import { API_ERRORS, ROUTES } from '../../server/lib/public-api'
import { randomIp } from '../support/client'
import { tokenFor } from '../support/management'
import { seedLicense, seedOwner, setLicense } from '../support/licenses'
import { MANAGEMENT_ROUTES } from '../../shared/api/management-routes'
import { Conformance, METHODS } from '../support/openapi'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * OpenAPI conformance (docs/openapi.md): the document served at /api/v1/openapi.json is fetched
 * from the real built worker, every documented route is sent real requests for its success and
 * each documented error, and every answer is validated against the document with ajv (draft
 * 2020-12). Then: every documented operation × status × code was exercised, and every route the
 * server answers is documented.
 */

let w: TestWorker
let c: Conformance
const KEY_PREFIX = 'LM-'
const unknownKey = () => generateKey().key

interface Sent { status: number, headers: Headers, text: string, body: any } // eslint-disable-line @typescript-eslint/no-explicit-any -- checked by the validator

async function send(method: string, path: string, opts: { body?: unknown, raw?: string, type?: string | null, ip?: string, headers?: Record<string, string> } = {}): Promise<Sent> {
  const headers: Record<string, string> = { 'cf-connecting-ip': opts.ip ?? randomIp(), 'user-agent': 'openapi-conformance', ...opts.headers }
  const text = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body))
  if (text !== undefined && opts.type !== null) headers['content-type'] = opts.type ?? 'application/json'
  const res = await fetch(`${w.url}${path}`, { method: method.toUpperCase(), headers, body: text })
  const out = { status: res.status, headers: res.headers, text: await res.text() }
  const body = c.check(method, path.split('?')[0]!, out)
  return { ...out, body }
}

beforeAll(async () => {
  // LM_FAULTS: test-only D1 fault injection (server/lib/d1-faults.ts), for the documented 500.
  w = await startWorker({ vars: { LM_FAULTS: '1' } })
  const res = await fetch(`${w.url}/api/v1/openapi.json`)
  expect(res.status).toBe(200)
  c = new Conformance(await res.json())
})
afterAll(async () => { await w?.close() })

describe('the served document', () => {
  it('is OpenAPI 3.1, cacheable with an ETag, CORS open, and answers 304 and 405 as documented', async () => {
    const first = await send('GET', '/api/v1/openapi.json')
    expect(first.body.openapi).toMatch(/^3\.1\./)
    expect(first.headers.get('cache-control')).toBe('public, max-age=300')
    expect(first.headers.get('access-control-allow-origin')).toBe('*')
    const etag = first.headers.get('etag')!
    const again = await send('GET', '/api/v1/openapi.json', { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect((await send('POST', '/api/v1/openapi.json', { body: {} })).status).toBe(405)
    const pre = await fetch(`${w.url}/api/v1/openapi.json`, { method: 'OPTIONS' })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('documents every error code of the code→status map, and the security of every operation', () => {
    for (const o of c.operations) expect(Array.isArray(o.op.security), o.op.operationId).toBe(true)
    expect(c.doc.info.description).toContain('`ROUTE_NOT_FOUND`')
    expect(c.doc.components.schemas.ErrorCode.enum).toEqual(Object.keys(API_ERRORS))
  })
})

describe('public routes: every business code and every protocol error conforms', () => {
  it('verify: VALID, signed, NOT_FOUND, PRODUCT_MISMATCH, SUSPENDED, EXPIRED, DEVICE_NOT_ACTIVATED, GRACE_PERIOD', async () => {
    const owner = await seedOwner(w)
    const ok = await seedLicense(w, owner.id, { maxDevices: 3, metadata: { tier: 'pro' }, expiresIn: '30d' })
    const v = (body: unknown) => send('POST', '/api/v1/licenses/verify', { body })
    expect((await v({ key: ok.key })).body.code).toBe('VALID')
    const signed = await v({ key: ok.key, signed: true, nonce: 'n-1' })
    expect(signed.body).toMatchObject({ code: 'VALID', nonce: 'n-1' })
    expect(signed.body.token).toBeTypeOf('string')
    expect((await v({ key: unknownKey() })).body.code).toBe('NOT_FOUND')
    expect((await v({ key: unknownKey(), nonce: 'n-2' })).body.nonce).toBe('n-2')
    expect((await v({ key: ok.key, product: 'another-app' })).body.code).toBe('PRODUCT_MISMATCH')
    expect((await v({ key: ok.key, fingerprint: 'never-activated' })).body.code).toBe('DEVICE_NOT_ACTIVATED')
    const suspended = await seedLicense(w, owner.id)
    await setLicense(w, suspended.license.id, { status: 'suspended' })
    expect((await v({ key: suspended.key, signed: true })).body.code).toBe('SUSPENDED')
    const expired = await seedLicense(w, owner.id, { expiresAt: new Date(Date.now() - 86_400_000) })
    expect((await v({ key: expired.key.replace(KEY_PREFIX, '').toLowerCase() })).body.code).toBe('EXPIRED')
    const inGrace = await seedLicense(w, owner.id, { expiresAt: new Date(Date.now() - 3_600_000), grace: '7d' })
    const grace = await v({ key: inGrace.key, signed: true })
    expect(grace.body).toMatchObject({ valid: true, status: 'active', code: 'GRACE_PERIOD', license: { graceEndsAt: inGrace.license.graceEndsAt!.toISOString() } })
  })

  it('activate: ACTIVATED, ALREADY_ACTIVATED, DEVICE_LIMIT_REACHED, ACTIVATION_LIMIT_REACHED, SUSPENDED, EXPIRED, NOT_FOUND, PRODUCT_MISMATCH', async () => {
    const owner = await seedOwner(w)
    const one = await seedLicense(w, owner.id, { maxDevices: 1 })
    const a = (body: unknown) => send('POST', '/api/v1/licenses/activate', { body })
    expect((await a({ key: one.key, fingerprint: 'dev-1', name: 'Laptop', signed: true })).body.code).toBe('ACTIVATED')
    expect((await a({ key: one.key, fingerprint: 'dev-1' })).body.code).toBe('ALREADY_ACTIVATED')
    expect((await a({ key: one.key, fingerprint: 'dev-2' })).body.code).toBe('DEVICE_LIMIT_REACHED')
    expect((await a({ key: unknownKey(), fingerprint: 'dev-1' })).body.code).toBe('NOT_FOUND')
    expect((await a({ key: one.key, fingerprint: 'dev-1', product: 'another-app' })).body.code).toBe('PRODUCT_MISMATCH')
    const suspended = await seedLicense(w, owner.id)
    await setLicense(w, suspended.license.id, { status: 'suspended' })
    expect((await a({ key: suspended.key, fingerprint: 'dev-1' })).body.code).toBe('SUSPENDED')
    const expired = await seedLicense(w, owner.id, { expiresAt: new Date(Date.now() - 1000) })
    expect((await a({ key: expired.key, fingerprint: 'dev-1', signed: true })).body.code).toBe('EXPIRED')
    // Churn limit: one new activation a month, even with a free seat.
    const churn = await seedLicense(w, owner.id, { maxDevices: 3, maxActivationsPerPeriod: { count: 1, period: '30d' } })
    expect((await a({ key: churn.key, fingerprint: 'c-1' })).body.code).toBe('ACTIVATED')
    await send('POST', '/api/v1/licenses/deactivate', { body: { key: churn.key, fingerprint: 'c-1' } })
    expect((await a({ key: churn.key, fingerprint: 'c-2' })).body).toEqual({ activated: false, code: 'ACTIVATION_LIMIT_REACHED', devices: { used: 0, max: 3 } })
  })

  it('heartbeat: ALIVE (signed, nonce), DEVICE_NOT_ACTIVATED, SUSPENDED, EXPIRED, NOT_FOUND, PRODUCT_MISMATCH', async () => {
    const owner = await seedOwner(w)
    const floating = await seedLicense(w, owner.id, { maxDevices: 2, leaseDuration: '15min' })
    const h = (body: unknown) => send('POST', '/api/v1/licenses/heartbeat', { body })
    await send('POST', '/api/v1/licenses/activate', { body: { key: floating.key, fingerprint: 'dev-1' } })
    const alive = await h({ key: floating.key, fingerprint: 'dev-1', nonce: 'n-4', signed: true })
    expect(alive.body).toMatchObject({ alive: true, code: 'ALIVE', nonce: 'n-4', devices: { used: 1, max: 2 } })
    expect(Date.parse(alive.body.leaseExpiresAt) - Date.now()).toBeGreaterThan(14 * 60_000)
    expect(alive.body.token).toBeTypeOf('string')
    expect((await h({ key: floating.key, fingerprint: 'dev-2' })).body).toEqual({ alive: false, code: 'DEVICE_NOT_ACTIVATED', leaseExpiresAt: null, devices: { used: 1, max: 2 } })
    expect((await h({ key: unknownKey(), fingerprint: 'dev-1' })).body.code).toBe('NOT_FOUND')
    expect((await h({ key: floating.key, fingerprint: 'dev-1', product: 'another-app' })).body.code).toBe('PRODUCT_MISMATCH')
    const suspended = await seedLicense(w, owner.id, { leaseDuration: '15min' })
    await setLicense(w, suspended.license.id, { status: 'suspended' })
    expect((await h({ key: suspended.key, fingerprint: 'dev-1', signed: true })).body.code).toBe('SUSPENDED')
    const expired = await seedLicense(w, owner.id, { expiresAt: new Date(Date.now() - 1000) })
    expect((await h({ key: expired.key, fingerprint: 'dev-1' })).body.code).toBe('EXPIRED')
  })

  it('deactivate: DEACTIVATED, DEVICE_NOT_ACTIVATED, NOT_FOUND, PRODUCT_MISMATCH', async () => {
    const owner = await seedOwner(w)
    const l = await seedLicense(w, owner.id)
    const d = (body: unknown) => send('POST', '/api/v1/licenses/deactivate', { body })
    await send('POST', '/api/v1/licenses/activate', { body: { key: l.key, fingerprint: 'dev-1' } })
    expect((await d({ key: l.key, fingerprint: 'dev-1', nonce: 'n-3', signed: true })).body).toMatchObject({ code: 'DEACTIVATED', nonce: 'n-3' })
    expect((await d({ key: l.key, fingerprint: 'dev-1' })).body.code).toBe('DEVICE_NOT_ACTIVATED')
    expect((await d({ key: unknownKey(), fingerprint: 'dev-1' })).body.code).toBe('NOT_FOUND')
    expect((await d({ key: l.key, fingerprint: 'dev-1', product: 'another-app' })).body.code).toBe('PRODUCT_MISMATCH')
  })

  it.each(ROUTES)('%s: 400, 405, 413, 415, 500 in the documented shape', async (route) => {
    const path = `/api/v1/licenses/${route}`
    const owner = await seedOwner(w)
    const l = await seedLicense(w, owner.id)
    const bad = await send('POST', path, { body: { fingerprint: 42 } })
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST'])
    expect((await send('POST', path, { raw: '{"key":' })).status).toBe(400)
    const get = await send('GET', path)
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST, OPTIONS'])
    expect((await send('POST', path, { raw: JSON.stringify({ key: 'x'.repeat(9000) }) })).status).toBe(413)
    expect((await send('POST', path, { raw: '{}', type: 'text/plain' })).status).toBe(415)
    expect((await send('POST', path, { raw: '{}', type: null })).status).toBe(415)
    // A D1 fault on the lookup (the fingerprint is bound into it): 500 INTERNAL, no stack trace.
    const fault = await send('POST', path, { body: { key: l.key, fingerprint: `lm-fault:always:${route}` } })
    expect([fault.status, fault.body.error.code]).toEqual([500, 'INTERNAL'])
  })

  it('429 RATE_LIMITED with Retry-After on every public POST route once an address passes 20 NOT_FOUND', async () => {
    const ip = randomIp()
    for (let i = 0; i < 21; i++) await send('POST', '/api/v1/licenses/verify', { body: { key: unknownKey() }, ip })
    for (const route of ROUTES) {
      const r = await send('POST', `/api/v1/licenses/${route}`, { body: { key: unknownKey(), fingerprint: 'f' }, ip })
      expect([r.status, r.body.error.code]).toEqual([429, 'RATE_LIMITED'])
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
    }
  })

  it('health: live, deep, 405', async () => {
    expect((await send('GET', '/api/v1/health')).body).toEqual({ ok: true })
    expect((await send('GET', '/api/v1/health?deep=1')).body).toMatchObject({ ok: true, database: 'ok' })
    expect((await send('POST', '/api/v1/health', { body: {} })).status).toBe(405)
    expect((await fetch(`${w.url}/api/v1/health`, { method: 'OPTIONS' })).status).toBe(204)
  })

  it('JWKS at both paths: the key set, 405', async () => {
    for (const path of ['/api/v1/jwks.json', '/.well-known/jwks.json']) {
      expect((await send('GET', path)).body.keys).toHaveLength(1)
      expect((await send('POST', path, { body: {} })).status).toBe(405)
    }
  })
})

describe('every route the server answers is documented', () => {
  it('each route of the public handler is in the document', () => {
    for (const route of ROUTES) expect(c.find('post', `/api/v1/licenses/${route}`), route).toBeDefined()
    for (const r of MANAGEMENT_ROUTES) expect(c.find(r.method, fill(r.path, {}).replace(/^/, '/api/v1')), r.operationId).toBeDefined()
  })

  it('on documented paths, an undocumented method is 405 (never a silent answer); unknown paths are 404 ROUTE_NOT_FOUND', async () => {
    const paths = [...new Set(c.operations.map(o => o.path.replace(/\{[^}]+\}/g, 'lic_0000000000000000')))]
    for (const path of paths) {
      for (const method of METHODS) {
        if (c.find(method, path)) continue
        const res = await send(method.toUpperCase(), path, method === 'get' ? {} : { body: {} })
        expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 405, 'METHOD_NOT_ALLOWED'])
      }
    }
    for (const path of ['/api/v1', '/api/v1/', '/api/v1/licenses/nope', '/api/v1/nothing-here', '/api/v1/licenses/verify/extra']) {
      if (c.find('get', path) || c.find('post', path)) continue
      const res = await fetch(`${w.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() }, body: '{}' })
      expect([path, res.status, (await res.json() as { error: { code: string } }).error.code]).toEqual([path, 404, 'ROUTE_NOT_FOUND'])
    }
  })
})

/** A management call with a token (null: none); the body is JSON unless `raw`/`type` say otherwise. */
function m(token: string | null, method: string, path: string, opts: { body?: unknown, raw?: string, type?: string | null, headers?: Record<string, string> } = {}) {
  return send(method, `/api/v1${path}`, { ...opts, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers } })
}
/** A path template with these ids filled in. */
const fill = (path: string, ids: Record<string, string>) => path.replace('/api/v1', '').replace(/\{(\w+)\}/g, (_, k: string) => ids[k] ?? 'xyz_0000')
/** A body each route accepts (where it has one). */
const GOOD_BODY: Record<string, unknown> = {
  createProduct: { name: 'Conf', slug: 'conf-x' }, updateProduct: { name: 'Conf 2' }, createLicense: { label: 'conf' },
  lookupLicense: { key: unknownKey() }, updateLicense: { label: 'conf 2' }, suspendLicense: {}, reinstateLicense: {}, renewLicense: { expiresIn: '30d' },
}

describe('management routes: every success and every documented error conforms', () => {
  it('products: list, create, get, change, delete, and their 403 / 404 / 409 / 422', async () => {
    const owner = await seedOwner(w)
    const other = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    expect((await m(token, 'GET', '/products')).body.data).toEqual([])
    const created = await m(token, 'POST', '/products', { body: { name: 'Photo Pro', slug: 'photo-pro', defaults: { expiresIn: '1y', maxDevices: 3 } } })
    expect(created.status).toBe(201)
    const id = created.body.product.id as string
    await m(token, 'POST', '/products', { body: { name: 'Second', slug: 'second' } })
    expect((await m(token, 'GET', '/products?limit=1')).body.nextCursor).toBeTypeOf('string')
    expect((await m(token, 'GET', `/products/${id}`)).body.product.slug).toBe('photo-pro')
    expect((await m(token, 'PATCH', `/products/${id}`, { body: { name: 'Photo Pro 2' } })).body.product.name).toBe('Photo Pro 2')
    expect((await m(token, 'POST', '/products', { body: { name: 'Dup', slug: 'photo-pro' } })).status).toBe(409)
    expect((await m(token, 'PATCH', `/products/${id}`, { body: { slug: 'second' } })).status).toBe(409)
    expect((await m(token, 'POST', '/products', { body: { name: 'Bad', slug: 'Not A Slug' } })).status).toBe(422)
    expect((await m(token, 'GET', '/products?limit=0')).status).toBe(422)
    expect((await m(token, 'GET', `/products?ownerId=${other.id}`)).status).toBe(403)
    await seedLicense(w, owner.id, { product: id })
    expect((await m(token, 'DELETE', `/products/${id}`)).status).toBe(409)
    const unused = (await m(token, 'POST', '/products', { body: { name: 'Unused', slug: 'unused' } })).body.product.id as string
    expect((await m(token, 'DELETE', `/products/${unused}`)).status).toBe(204)
  })

  it('licenses: list, create (idempotent), lookup, get, change, suspend, reinstate, renew, free a device, delete, and their 404 / 409 / 422', async () => {
    const owner = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    const product = (await m(token, 'POST', '/products', { body: { name: 'Editor', slug: 'editor', defaults: { maxDevices: 2 } } })).body.product
    const body = { product: 'editor', expiresIn: '1y', customerEmail: 'ada@example.com', customerName: 'Ada', externalId: 'order_1' }
    const created = await m(token, 'POST', '/licenses', { body, headers: { 'idempotency-key': 'checkout-1' } })
    expect(created.status).toBe(201)
    const replay = await m(token, 'POST', '/licenses', { body, headers: { 'idempotency-key': 'checkout-1' } })
    expect([replay.status, replay.body.key]).toEqual([201, created.body.key])
    expect((await m(token, 'POST', '/licenses', { body: { label: 'other' }, headers: { 'idempotency-key': 'checkout-1' } })).status).toBe(409)
    expect((await m(token, 'POST', '/licenses', { body: { externalId: 'order_1' } })).status).toBe(409)
    expect((await m(token, 'POST', '/licenses', { body: { product: 'prd_doesnotexist' } })).status).toBe(404)
    expect((await m(token, 'POST', '/licenses', { body: { expiresIn: 'soon' } })).status).toBe(422)
    const id = created.body.license.id as string
    expect(created.body.license.product).toEqual({ id: product.id, slug: 'editor' })
    await m(token, 'POST', '/licenses', { body: { label: 'second' } })
    expect((await m(token, 'GET', '/licenses?customerEmail=ada@example.com')).body.data).toHaveLength(1)
    expect((await m(token, 'GET', '/licenses?limit=1')).body.nextCursor).toBeTypeOf('string')
    expect((await m(token, 'GET', '/licenses?status=nope')).status).toBe(422)
    expect((await m(token, 'GET', `/licenses?ownerId=${(await seedOwner(w)).id}`)).status).toBe(403)
    await send('POST', '/api/v1/licenses/activate', { body: { key: created.body.key, fingerprint: 'conf-dev' } })
    const one = await m(token, 'GET', `/licenses/${id}`)
    expect(one.body.license.devicesList).toHaveLength(1)
    expect((await m(token, 'POST', '/licenses/lookup', { body: { key: created.body.key } })).body.license.id).toBe(id)
    expect((await m(token, 'POST', '/licenses/lookup', { body: { key: unknownKey() } })).status).toBe(404)
    expect((await m(token, 'PATCH', `/licenses/${id}`, { body: { maxDevices: 5, metadata: { tier: 'team' } } })).body.license.maxDevices).toBe(5)
    await m(token, 'POST', '/licenses', { body: { externalId: 'order_2' } })
    expect((await m(token, 'PATCH', `/licenses/${id}`, { body: { externalId: 'order_2' } })).status).toBe(409)
    expect((await m(token, 'POST', `/licenses/${id}/suspend`)).body.license.status).toBe('suspended')
    expect((await m(token, 'POST', `/licenses/${id}/reinstate`, { body: {} })).body.license.status).toBe('active')
    const renewed = await m(token, 'POST', `/licenses/${id}/renew`, { body: { expiresIn: '30d' } })
    expect(renewed.status).toBe(200)
    expect(renewed.body.license.expiresAt).toBeTypeOf('string')
    expect((await m(token, 'DELETE', `/licenses/${id}/devices/${one.body.license.devicesList[0].id}`)).status).toBe(204)
    expect((await m(token, 'DELETE', `/licenses/${id}`)).status).toBe(204)
  })

  it('every route: 401 without a token, 404 for another owner\'s or a malformed id, 403 for a read-only token on a write', async () => {
    const owner = await seedOwner(w)
    const other = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    const readOnly = (await tokenFor(w, owner.id, { readOnly: true })).token
    const theirs = { id: (await seedLicense(w, other.id)).license.id, deviceId: 'dev_0000' }
    const mine = (await m(token, 'POST', '/licenses', { body: {} })).body.license.id as string
    for (const r of MANAGEMENT_ROUTES) {
      const path = fill(r.path, { id: r.path.includes('/products') ? 'prd_0000' : mine, deviceId: 'dev_0000' })
      const body = r.body ? { body: GOOD_BODY[r.operationId] ?? {} } : {}
      const none = await m(null, r.method, path, body)
      expect([r.operationId, none.status, none.headers.get('www-authenticate')?.startsWith('Bearer')]).toEqual([r.operationId, 401, true])
      if (r.write) expect([r.operationId, (await m(readOnly, r.method, path, body)).status]).toEqual([r.operationId, 403])
      if (r.params) {
        const foreign = fill(r.path, r.path.includes('/products') ? { id: 'prd_0000' } : theirs)
        expect([r.operationId, (await m(token, r.method, foreign, body)).status]).toEqual([r.operationId, 404])
        expect([r.operationId, (await m(token, r.method, fill(r.path, { id: 'not-an-id', deviceId: 'x' }), body)).status]).toEqual([r.operationId, 404])
      }
    }
  })

  it('every route with a body: 400 malformed, 413 too large, 415 not JSON, 422 an unknown field', async () => {
    const owner = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    const mine = (await m(token, 'POST', '/licenses', { body: {} })).body.license.id as string
    const prd = (await m(token, 'POST', '/products', { body: { name: 'B', slug: 'b' } })).body.product.id as string
    for (const r of MANAGEMENT_ROUTES.filter(x => x.body)) {
      const path = fill(r.path, { id: r.path.includes('/products') ? prd : mine })
      const statusOf = async (opts: Parameters<typeof m>[3]) => [r.operationId, (await m(token, r.method, path, opts)).status]
      expect(await statusOf({ raw: '{"name":' })).toEqual([r.operationId, 400])
      expect(await statusOf({ raw: JSON.stringify({ label: 'x'.repeat(17_000) }) })).toEqual([r.operationId, 413])
      expect(await statusOf({ raw: '{}', type: 'text/plain' })).toEqual([r.operationId, 415])
      expect(await statusOf({ body: { ...(GOOD_BODY[r.operationId] as object), notAField: 1 } })).toEqual([r.operationId, 422])
    }
    expect((await m(token, 'POST', '/licenses', { body: {}, headers: { 'idempotency-key': 'bad key with spaces' } })).status).toBe(400)
  })

  it('every route: 429 RATE_LIMITED with Retry-After once the owner passes 120 calls a minute', async () => {
    const owner = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    let last = 0
    for (let i = 0; i < 121 && last !== 429; i++) last = (await m(token, 'GET', '/products')).status
    expect(last).toBe(429)
    for (const r of MANAGEMENT_ROUTES) {
      const res = await m(token, r.method, fill(r.path, { id: 'lic_0000', deviceId: 'dev_0000' }), r.body ? { body: GOOD_BODY[r.operationId] ?? {} } : {})
      expect([r.operationId, res.status]).toEqual([r.operationId, 429])
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    }
  })
})

// Last: these change the worker (no signing key; the counters table gone) for the documented 503s.
describe('500 and 503 where documented', () => {
  it('signed answers and the JWKS without a signing key; health?deep=1 without a readable database; management routes without their tables', async () => {
    const owner = await seedOwner(w)
    const l = await seedLicense(w, owner.id)
    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: '' }, vars: { LM_FAULTS: '1' } })
    for (const route of ['verify', 'activate', 'heartbeat']) {
      const r = await send('POST', `/api/v1/licenses/${route}`, { body: { key: l.key, fingerprint: 'dev-503', signed: true } })
      expect([route, r.status, r.body.error.code]).toEqual([route, 503, 'UNAVAILABLE'])
    }
    for (const path of ['/api/v1/jwks.json', '/.well-known/jwks.json']) expect((await send('GET', path)).status).toBe(503)
    await w.env.DB.exec('DROP TABLE system_counters')
    const deep = await send('GET', '/api/v1/health?deep=1')
    expect([deep.status, deep.body.error.code]).toEqual([503, 'UNAVAILABLE'])
    // Management routes when the data they need is gone: 500 INTERNAL, never a stack trace.
    const owner2 = await seedOwner(w)
    const { token } = await tokenFor(w, owner2.id)
    const mine = (await m(token, 'POST', '/licenses', { body: {} })).body.license.id as string
    await w.env.DB.exec('ALTER TABLE licenses RENAME TO licenses_gone')
    await w.env.DB.exec('ALTER TABLE products RENAME TO products_gone')
    for (const r of MANAGEMENT_ROUTES) {
      const res = await m(token, r.method, fill(r.path, { id: r.path.includes('/products') ? 'prd_0000' : mine, deviceId: 'dev_0000' }), r.body ? { body: GOOD_BODY[r.operationId] ?? {} } : {})
      expect([r.operationId, res.status, res.body?.error?.code]).toEqual([r.operationId, 500, 'INTERNAL'])
    }
  })
})

describe('coverage', () => {
  it('every documented operation × status × code was exercised by a conforming answer', () => {
    // Each public POST route alone promises its statuses and its business codes: dozens in all.
    expect(c.promised().length).toBeGreaterThan(50)
    const missing = c.promised().filter(p => !c.exercised.has(p))
    expect(missing).toEqual([])
  })
})
