import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKey } from '../../server/lib/keys'
import { ROUTES } from '../../server/lib/public-api'
import { randomIp } from '../support/client'
import { seedLicense, seedOwner, setLicense } from '../support/licenses'
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
  })
})

describe('public routes: every business code and every protocol error conforms', () => {
  it('verify: VALID, signed, NOT_FOUND, PRODUCT_MISMATCH, SUSPENDED, EXPIRED, DEVICE_NOT_ACTIVATED', async () => {
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
  })

  it('activate: ACTIVATED, ALREADY_ACTIVATED, DEVICE_LIMIT_REACHED, SUSPENDED, EXPIRED, NOT_FOUND, PRODUCT_MISMATCH', async () => {
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
  })

  it('on documented paths, an undocumented method is 405 (never a silent answer); unknown paths are 404 ROUTE_NOT_FOUND', async () => {
    const paths = [...new Set(c.operations.map(o => o.path.replace(/\{[^}]+\}/g, 'lic_0000000000000000')))]
    for (const path of paths) {
      for (const method of METHODS) {
        if (c.find(method, path)) continue
        const res = await fetch(`${w.url}${path}`, { method: method.toUpperCase(), headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() }, body: method === 'get' ? undefined : '{}' })
        const body = await res.json() as { error: { code: string } }
        expect([method, path, res.status, body.error.code]).toEqual([method, path, 405, 'METHOD_NOT_ALLOWED'])
      }
    }
    for (const path of ['/api/v1', '/api/v1/', '/api/v1/licenses/nope', '/api/v1/nothing-here', '/api/v1/licenses/verify/extra']) {
      if (c.find('get', path) || c.find('post', path)) continue
      const res = await fetch(`${w.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() }, body: '{}' })
      expect([path, res.status, (await res.json() as { error: { code: string } }).error.code]).toEqual([path, 404, 'ROUTE_NOT_FOUND'])
    }
  })
})

// Last: these change the worker (no signing key; the counters table gone) for the documented 503s.
describe('503 UNAVAILABLE where documented', () => {
  it('signed answers and the JWKS without a signing key; health?deep=1 without a readable database', async () => {
    const owner = await seedOwner(w)
    const l = await seedLicense(w, owner.id)
    await w.reconfigure({ secrets: { TOKEN_SIGNING_KEY: '' }, vars: { LM_FAULTS: '1' } })
    for (const route of ['verify', 'activate']) {
      const r = await send('POST', `/api/v1/licenses/${route}`, { body: { key: l.key, fingerprint: 'dev-503', signed: true } })
      expect([route, r.status, r.body.error.code]).toEqual([route, 503, 'UNAVAILABLE'])
    }
    for (const path of ['/api/v1/jwks.json', '/.well-known/jwks.json']) expect((await send('GET', path)).status).toBe(503)
    await w.env.DB.exec('DROP TABLE system_counters')
    const deep = await send('GET', '/api/v1/health?deep=1')
    expect([deep.status, deep.body.error.code]).toEqual([503, 'UNAVAILABLE'])
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
