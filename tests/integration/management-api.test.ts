import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiTokens, events, licenses } from '../../db/schema'
import { revokeApiToken } from '../../server/services/api-tokens'
import { setUserDisabled } from '../../server/services/users'
import { snapshot } from '../support/authz'
import { api, seedOwner } from '../support/licenses'
import { mgmt, tokenFor } from '../support/management'
import { WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let receiver: WebhookReceiver
let owner: { id: string, email: string }
let stranger: { id: string, email: string }
const tokens = {} as Record<'owner' | 'stranger' | 'admin' | 'readOnly' | 'revoked' | 'expired' | 'disabled', string>
const ids = {} as Record<string, string>

beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  // The owner limit is tested in management-rate-limit.test.ts; here it stays out of the way.
  w = await startWorker({ vars: { MANAGEMENT_RATE_LIMIT_PER_MINUTE: '100000', WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  owner = await seedOwner(w)
  stranger = await seedOwner(w)
  const disabledUser = await seedOwner(w)
  const t = async (userId: string, opts = {}) => {
    const made = await tokenFor(w, userId, opts)
    return made
  }
  const o = await t(owner.id)
  tokens.owner = o.token
  ids.ownerToken = o.id
  tokens.stranger = (await t(stranger.id)).token
  tokens.admin = (await t(w.admin.id)).token
  tokens.readOnly = (await t(owner.id, { readOnly: true })).token
  const revoked = await t(owner.id)
  tokens.revoked = revoked.token
  const { ctx } = w.context()
  await revokeApiToken(ctx, { all: true }, revoked.id)
  const expired = await t(owner.id, { expiresIn: '1d' })
  tokens.expired = expired.token
  await ctx.db.update(apiTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiTokens.id, expired.id))
  tokens.disabled = (await t(disabledUser.id)).token
  await setUserDisabled(ctx, disabledUser.id, true)
})
afterAll(async () => {
  await w?.close()
  await receiver?.close()
})

describe('authentication', () => {
  it('no token, a malformed, unknown, revoked or expired token, a disabled owner\'s: 401 with WWW-Authenticate: Bearer', async () => {
    const cases: [string | null, Record<string, string>][] = [
      [null, {}],
      ['not-a-token', {}],
      [`lm_${'0'.repeat(40)}`, {}],
      [tokens.revoked, {}],
      [tokens.expired, {}],
      [tokens.disabled, {}],
    ]
    for (const [token, headers] of cases) {
      const r = await mgmt(w, token, 'GET', '/licenses', undefined, headers)
      expect(r.status, String(token)).toBe(401)
      expect(r.json.error.code).toBe('UNAUTHORIZED')
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/)
    }
    const messages = await Promise.all([tokens.revoked, tokens.expired, tokens.disabled].map(async t => (await mgmt(w, t, 'GET', '/licenses')).json.error.message))
    expect(messages).toEqual(['This API token was revoked', 'This API token has expired', 'The owner of this API token is disabled'])
  })

  it('a token in a cookie or the query string is not accepted', async () => {
    expect((await mgmt(w, null, 'GET', `/licenses?token=${tokens.owner}`)).status).toBe(401)
    expect((await mgmt(w, null, 'GET', `/licenses?access_token=${tokens.owner}`)).status).toBe(401)
    expect((await mgmt(w, null, 'GET', '/licenses', undefined, { cookie: `token=${tokens.owner}; lm_session=${tokens.owner}` })).status).toBe(401)
    expect((await mgmt(w, null, 'GET', '/licenses', undefined, { authorization: `Basic ${btoa(`${tokens.owner}:`)}` })).status).toBe(401)
  })

  it('last used is written after the response, at most once a minute', async () => {
    const { token, id } = await tokenFor(w, owner.id)
    const { ctx } = w.context()
    const lastUsed = async () => (await ctx.db.select({ t: apiTokens.lastUsedAt }).from(apiTokens).where(eq(apiTokens.id, id)))[0]!.t
    expect(await lastUsed()).toBeNull()
    expect((await mgmt(w, token, 'GET', '/products')).status).toBe(200)
    let first: Date | null = null
    for (let i = 0; i < 100 && !first; i++) {
      first = await lastUsed()
      if (!first) await new Promise(r => setTimeout(r, 20))
    }
    expect(first).toBeInstanceOf(Date)
    for (let i = 0; i < 3; i++) expect((await mgmt(w, token, 'GET', '/products')).status).toBe(200)
    // A write would land within this poll; the value stays the first one (< 1 minute later).
    await mgmt(w, token, 'GET', '/products')
    expect((await lastUsed())!.getTime()).toBe(first!.getTime())
  })
})

describe('routes', () => {
  it('unknown route 404 ROUTE_NOT_FOUND, wrong method 405 with Allow, OPTIONS 204', async () => {
    const r = await mgmt(w, tokens.owner, 'GET', '/nothing-here')
    expect(r.status).toBe(404)
    expect(r.json.error.code).toBe('ROUTE_NOT_FOUND')
    const m = await mgmt(w, tokens.owner, 'PUT', '/licenses')
    expect(m.status).toBe(405)
    expect(m.json.error.code).toBe('METHOD_NOT_ALLOWED')
    expect(m.headers.get('allow')).toBe('GET, POST, OPTIONS')
    expect((await mgmt(w, null, 'OPTIONS', '/licenses')).status).toBe(204)
  })

  it('products: create 201, duplicate slug 409, get, patch, list, delete refused while used (409), delete 204', async () => {
    const c = await mgmt(w, tokens.owner, 'POST', '/products', { name: 'Photo Pro', slug: 'photo-pro', defaults: { expiresIn: '1y', maxDevices: 3 } })
    expect(c.status).toBe(201)
    expect(c.json.product).toMatchObject({ id: expect.stringMatching(/^prd_/), name: 'Photo Pro', slug: 'photo-pro', defaults: { expiresIn: '1y', maxDevices: 3 }, licenseCount: 0, ownerId: owner.id })
    ids.product = c.json.product.id
    const dup = await mgmt(w, tokens.owner, 'POST', '/products', { name: 'Again', slug: 'photo-pro' })
    expect(dup.status).toBe(409)
    expect(dup.json.error).toMatchObject({ code: 'CONFLICT', fields: { slug: expect.any(String) } })
    expect((await mgmt(w, tokens.owner, 'GET', `/products/${ids.product}`)).json.product.slug).toBe('photo-pro')
    const p = await mgmt(w, tokens.owner, 'PATCH', `/products/${ids.product}`, { name: 'Photo Pro 2' })
    expect(p.status).toBe(200)
    expect(p.json.product.name).toBe('Photo Pro 2')
    const list = await mgmt(w, tokens.owner, 'GET', '/products')
    expect(list.status).toBe(200)
    expect(list.json).toMatchObject({ data: [{ id: ids.product }], nextCursor: null })
    const lic = await mgmt(w, tokens.owner, 'POST', '/licenses', { product: 'photo-pro' })
    expect(lic.status).toBe(201)
    const refused = await mgmt(w, tokens.owner, 'DELETE', `/products/${ids.product}`)
    expect(refused.status).toBe(409)
    expect((await mgmt(w, tokens.owner, 'DELETE', `/licenses/${lic.json.license.id}`)).status).toBe(204)
    const del = await mgmt(w, tokens.owner, 'DELETE', `/products/${ids.product}`)
    expect(del.status).toBe(204)
    expect(del.text).toBe('')
    expect((await mgmt(w, tokens.owner, 'GET', `/products/${ids.product}`)).status).toBe(404)
  })

  it('licenses: create (product defaults, key once), the key verifies, get with devices, patch, suspend, reinstate, renew, lookup, free a device, delete', async () => {
    const prd = await mgmt(w, tokens.owner, 'POST', '/products', { name: 'Editor', slug: 'editor', defaults: { expiresIn: '30d', maxDevices: 2, metadata: { tier: 'pro' } } })
    const c = await mgmt(w, tokens.owner, 'POST', '/licenses', { product: 'editor', label: 'Order 1', customerEmail: 'Buyer@Example.com', customerName: 'Ada', externalId: 'order-1' })
    expect(c.status).toBe(201)
    const key: string = c.json.key
    expect(key).toMatch(/^LM-/)
    const l = c.json.license
    expect(l).toMatchObject({
      id: expect.stringMatching(/^lic_/), product: { id: prd.json.product.id, slug: 'editor' }, label: 'Order 1', status: 'active',
      maxDevices: 2, devices: { used: 0, max: 2 }, metadata: { tier: 'pro' }, renewal: null, graceEndsAt: null,
      customer: { email: 'buyer@example.com', name: 'Ada', externalId: 'order-1' },
    })
    expect(Math.abs(Date.parse(l.expiresAt) - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000)
    expect(l.maskedKey).toContain(key.slice(-3))
    expect(JSON.stringify(l)).not.toContain(key.slice(3, 20))

    const act = await api(w, 'activate', { key, fingerprint: 'fp-1', product: 'editor' })
    expect(act.json.code).toBe('ACTIVATED')
    const got = await mgmt(w, tokens.owner, 'GET', `/licenses/${l.id}`)
    expect(got.status).toBe(200)
    expect(got.json.license.devicesList).toEqual([expect.objectContaining({ id: expect.stringMatching(/^dev_/), fingerprint: 'fp-1' })])
    expect(got.json.license.devices).toEqual({ used: 1, max: 2 })
    expect(got.json.license).not.toHaveProperty('events')

    const patched = await mgmt(w, tokens.owner, 'PATCH', `/licenses/${l.id}`, { label: 'Order 1b', maxDevices: 5, renewal: '1y', metadata: { tier: 'team' }, customerName: null })
    expect(patched.status).toBe(200)
    expect(patched.json.license).toMatchObject({ label: 'Order 1b', maxDevices: 5, renewal: '1y', metadata: { tier: 'team' }, customer: { name: null, email: 'buyer@example.com' } })

    const s = await mgmt(w, tokens.owner, 'POST', `/licenses/${l.id}/suspend`)
    expect(s.status).toBe(200)
    expect(s.json.license.status).toBe('suspended')
    expect((await api(w, 'verify', { key })).json.code).toBe('SUSPENDED')
    const r = await mgmt(w, tokens.owner, 'POST', `/licenses/${l.id}/reinstate`, {})
    expect(r.json.license.status).toBe('active')
    const before = Date.parse(r.json.license.expiresAt)
    const renewed = await mgmt(w, tokens.owner, 'POST', `/licenses/${l.id}/renew`)
    expect(renewed.status).toBe(200)
    expect(new Date(renewed.json.license.expiresAt).getUTCFullYear()).toBe(new Date(before).getUTCFullYear() + 1)
    const to = await mgmt(w, tokens.owner, 'POST', `/licenses/${l.id}/renew`, { expiresAt: '2040-01-31T00:00:00Z' })
    expect(to.json.license.expiresAt).toBe('2040-01-31T00:00:00.000Z')

    const found = await mgmt(w, tokens.owner, 'POST', '/licenses/lookup', { key: key.toLowerCase() })
    expect(found.status).toBe(200)
    expect(found.json.license.id).toBe(l.id)
    expect((await mgmt(w, tokens.stranger, 'POST', '/licenses/lookup', { key })).status).toBe(404)

    const deviceId = got.json.license.devicesList[0].id
    expect((await mgmt(w, tokens.owner, 'DELETE', `/licenses/${l.id}/devices/${deviceId}`)).status).toBe(204)
    expect((await mgmt(w, tokens.owner, 'DELETE', `/licenses/${l.id}/devices/${deviceId}`)).status).toBe(404)
    expect((await api(w, 'verify', { key, fingerprint: 'fp-1' })).json.code).toBe('DEVICE_NOT_ACTIVATED')

    const dupExt = await mgmt(w, tokens.owner, 'POST', '/licenses', { externalId: 'order-1' })
    expect(dupExt.status).toBe(409)
    expect(dupExt.json.error.fields).toHaveProperty('externalId')

    expect((await mgmt(w, tokens.owner, 'DELETE', `/licenses/${l.id}`)).status).toBe(204)
    expect((await mgmt(w, tokens.owner, 'GET', `/licenses/${l.id}`)).status).toBe(404)
    expect((await api(w, 'verify', { key })).json.code).toBe('NOT_FOUND')
  })

  it('list: newest first, keyset pages, filters by product, status, customer email, external id and q', async () => {
    const seller = await seedOwner(w)
    const token = (await tokenFor(w, seller.id)).token
    await mgmt(w, token, 'POST', '/products', { name: 'A', slug: 'a' })
    const made: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await mgmt(w, token, 'POST', '/licenses', { label: `item ${i}`, product: i % 2 ? 'a' : undefined, customerEmail: `c${i}@example.com`, externalId: `ext-${i}` })
      expect(r.status).toBe(201)
      made.push(r.json.license.id)
    }
    await mgmt(w, token, 'POST', `/licenses/${made[4]}/suspend`)
    await mgmt(w, token, 'PATCH', `/licenses/${made[3]}`, { expiresAt: '2001-01-01T00:00:00Z' })
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = await mgmt(w, token, 'GET', `/licenses?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(page.status).toBe(200)
      expect(page.json.data.length).toBeLessThanOrEqual(2)
      seen.push(...page.json.data.map((l: { id: string }) => l.id))
      cursor = page.json.nextCursor
    } while (cursor)
    expect(seen).toEqual([...made].reverse())
    expect((await mgmt(w, token, 'GET', '/licenses')).json.data).toHaveLength(5)
    const ids = async (q: string) => (await mgmt(w, token, 'GET', `/licenses?${q}`)).json.data.map((l: { id: string }) => l.id)
    expect(await ids('product=a')).toEqual([made[3], made[1]])
    expect(await ids('status=suspended')).toEqual([made[4]])
    expect(await ids('status=expired')).toEqual([made[3]])
    expect(await ids('status=active')).toEqual([made[2], made[1], made[0]])
    expect(await ids('customerEmail=C2@example.com')).toEqual([made[2]])
    expect(await ids('externalId=ext-1')).toEqual([made[1]])
    expect(await ids('q=item%200')).toEqual([made[0]])
    for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'cursor=nope', 'status=gone', 'unknown=1', 'limit=1&limit=2']) {
      const r = await mgmt(w, token, 'GET', `/licenses?${bad}`)
      expect(r.status, bad).toBe(422)
      expect(r.json.error.code).toBe('VALIDATION_FAILED')
      expect(Object.keys(r.json.error.fields).length, bad).toBeGreaterThan(0)
    }
  })
})

describe('license policies', () => {
  it('create and change a license and product defaults with policies; bad values are 422 naming the field and change nothing', async () => {
    const owner = await seedOwner(w)
    const { token } = await tokenFor(w, owner.id)
    const p = await mgmt(w, token, 'POST', '/products', { name: 'Lab', slug: 'lab', defaults: { expiresIn: '1y', grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '1mo' } } })
    expect(p.status).toBe(201)
    expect(p.json.product.defaults).toMatchObject({ grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '1mo' } })
    const fromProduct = (await mgmt(w, token, 'POST', '/licenses', { product: 'lab' })).json.license
    expect(fromProduct).toMatchObject({ grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '1mo' }, expiresAfterActivation: null })
    expect(Date.parse(fromProduct.graceEndsAt) - Date.parse(fromProduct.expiresAt)).toBe(7 * 86_400_000)
    const trial = await mgmt(w, token, 'POST', '/licenses', { expiresAfterActivation: '14d', grace: '3d', leaseDuration: '1h' })
    expect(trial.status).toBe(201)
    expect(trial.json.license).toMatchObject({ expiresAt: null, graceEndsAt: null, expiresAfterActivation: '14d', grace: '3d', leaseDuration: '1h' })
    const changed = await mgmt(w, token, 'PATCH', `/licenses/${fromProduct.id}`, { grace: '3d', leaseDuration: null, maxActivationsPerPeriod: null })
    expect(changed.json.license).toMatchObject({ grace: '3d', leaseDuration: null, maxActivationsPerPeriod: null })
    expect(Date.parse(changed.json.license.graceEndsAt) - Date.parse(changed.json.license.expiresAt)).toBe(3 * 86_400_000)
    const before = await snapshot(w)
    for (const [method, path, body, field] of [
      ['POST', '/licenses', { expiresIn: '30d', grace: 'forever' }, 'grace'],
      ['POST', '/licenses', { grace: '7d' }, 'grace'],
      ['POST', '/licenses', { leaseDuration: '10s' }, 'leaseDuration'],
      ['POST', '/licenses', { maxActivationsPerPeriod: { count: 0, period: '30d' } }, 'maxActivationsPerPeriod.count'],
      ['POST', '/licenses', { expiresAt: '2030-01-01T00:00:00Z', expiresAfterActivation: '14d' }, 'expiresAfterActivation'],
      ['PATCH', `/licenses/${fromProduct.id}`, { leaseDuration: '31d' }, 'leaseDuration'],
      ['PATCH', `/licenses/${fromProduct.id}`, { maxActivationsPerPeriod: { count: 2, period: 'weekly' } }, 'maxActivationsPerPeriod.period'],
      ['PATCH', `/products/${p.json.product.id}`, { defaults: { grace: '2y', expiresIn: '1y' } }, 'defaults.grace'],
    ] as const) {
      const r = await mgmt(w, token, method, path, body)
      expect([path, JSON.stringify(body), r.status, r.json.error.code]).toEqual([path, JSON.stringify(body), 422, 'VALIDATION_FAILED'])
      expect(Object.keys(r.json.error.fields), JSON.stringify(body)).toContain(field)
    }
    expect(await snapshot(w)).toBe(before)
  })
})

describe('authorization', () => {
  it('another owner\'s objects are 404 and untouched; a read-only token reads but 403s on writes; ownerId is for admins', async () => {
    const c = await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'mine' })
    const id = c.json.license.id
    const p = await mgmt(w, tokens.owner, 'POST', '/products', { name: 'Mine', slug: 'mine' })
    const pid = p.json.product.id
    const before = await snapshot(w)
    const refusals: [string, string, unknown?][] = [
      ['GET', `/licenses/${id}`], ['PATCH', `/licenses/${id}`, { label: 'x' }], ['DELETE', `/licenses/${id}`],
      ['POST', `/licenses/${id}/suspend`], ['POST', `/licenses/${id}/renew`, { expiresIn: '1d' }],
      ['GET', `/products/${pid}`], ['PATCH', `/products/${pid}`, { name: 'x' }], ['DELETE', `/products/${pid}`],
    ]
    for (const [method, path, body] of refusals) {
      const r = await mgmt(w, tokens.stranger, method, path, body)
      expect(r.status, `${method} ${path}`).toBe(404)
      expect(r.json.error.code).toBe('NOT_FOUND')
    }
    // A license for another owner's product: not found either.
    expect((await mgmt(w, tokens.stranger, 'POST', '/licenses', { product: pid })).status).toBe(404)
    expect((await mgmt(w, tokens.stranger, 'GET', '/licenses')).json.data).toEqual([])
    // Naming another owner is an admin's ability.
    const named = await mgmt(w, tokens.stranger, 'POST', '/licenses', { ownerId: owner.id })
    expect(named.status).toBe(403)
    expect((await mgmt(w, tokens.stranger, 'GET', `/licenses?ownerId=${owner.id}`)).status).toBe(403)
    // Read-only: reads yes, writes 403 (before the body is even looked at).
    expect((await mgmt(w, tokens.readOnly, 'GET', `/licenses/${id}`)).status).toBe(200)
    for (const [method, path, body] of [['POST', '/licenses', {}], ['PATCH', `/licenses/${id}`, { label: 'ro' }], ['DELETE', `/licenses/${id}`], ['POST', `/licenses/${id}/suspend`], ['POST', '/products', 'not json']] as [string, string, unknown?][]) {
      const r = await mgmt(w, tokens.readOnly, method, path, body)
      expect(r.status, `${method} ${path}`).toBe(403)
      expect(r.json.error.code).toBe('FORBIDDEN')
    }
    expect(await snapshot(w)).toBe(before)
    // An admin's token sees and acts for every owner.
    expect((await mgmt(w, tokens.admin, 'GET', `/licenses/${id}`)).status).toBe(200)
    const forOwner = await mgmt(w, tokens.admin, 'POST', '/licenses', { ownerId: owner.id, label: 'by admin' })
    expect(forOwner.status).toBe(201)
    expect(forOwner.json.license.ownerId).toBe(owner.id)
    expect((await mgmt(w, tokens.admin, 'GET', `/licenses?ownerId=${owner.id}&q=by%20admin`)).json.data).toHaveLength(1)
    expect((await mgmt(w, tokens.admin, 'POST', '/licenses', { ownerId: 'usr_doesnotexist' })).status).toBe(422)
  })

  it('writes are events with the token as actor (its id, never the secret), and fire webhooks as from the web app', async () => {
    const { ctx } = w.context()
    const { createWebhook } = await import('../../server/services/webhooks')
    const { createWebhookSchema } = await import('../../shared/schemas/webhooks')
    await createWebhook(ctx, owner.id, createWebhookSchema.parse({ url: `${receiver.url}/mgmt`, allEvents: true }))
    const c = await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'hooked', customerEmail: 'secret-customer@example.com' })
    expect(c.status).toBe(201)
    const id = c.json.license.id
    const [created] = await ctx.db.select().from(events).where(eq(events.subjectId, id))
    expect(created).toMatchObject({ type: 'license.created', actorType: 'token', actorId: ids.ownerToken! })
    const got = await receiver.waitFor(() => receiver.at('/mgmt').some(r => r.json.type === 'license.created' && r.json.data.license.id === id), 10_000)
    expect(got.length).toBeGreaterThan(0)
    await mgmt(w, tokens.owner, 'POST', `/licenses/${id}/suspend`)
    await receiver.waitFor(() => receiver.at('/mgmt').some(r => r.json.type === 'license.suspended' && r.json.data.license.id === id), 10_000)
    const rows = await ctx.db.select().from(events).where(eq(events.actorId, ids.ownerToken!))
    expect(rows.map(r => r.type)).toEqual(expect.arrayContaining(['license.created', 'license.suspended']))
  })
})

describe('idempotency', () => {
  it('same key + same body: the same 201 with the key, one license; another body: 409; the stored answer is encrypted', async () => {
    const body = { label: 'checkout 1', customerEmail: 'pay@example.com' }
    const h = { 'idempotency-key': 'cs_test_1' }
    const a = await mgmt(w, tokens.owner, 'POST', '/licenses', body, h)
    expect(a.status).toBe(201)
    const b = await mgmt(w, tokens.owner, 'POST', '/licenses', { customerEmail: 'pay@example.com', label: 'checkout 1' }, h)
    expect(b.status).toBe(201)
    expect(b.headers.get('idempotent-replayed')).toBe('true')
    expect(b.json).toEqual(a.json)
    const other = await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'checkout 2' }, h)
    expect(other.status).toBe(409)
    expect(other.json.error.code).toBe('CONFLICT')
    const { ctx } = w.context()
    expect(await ctx.db.select().from(licenses).where(eq(licenses.label, 'checkout 1'))).toHaveLength(1)
    // Another owner's same key is theirs: no replay of someone else's answer.
    const theirs = await mgmt(w, tokens.stranger, 'POST', '/licenses', body, h)
    expect(theirs.status).toBe(201)
    expect(theirs.json.key).not.toBe(a.json.key)
    const dump = await snapshot(w)
    expect(dump).not.toContain(a.json.key)
    expect(dump).not.toContain(a.json.key.replace(/-/g, '').slice(2))
    expect(dump).not.toContain('cs_test_1')
    // A malformed key is refused for what it is.
    expect((await mgmt(w, tokens.owner, 'POST', '/licenses', body, { 'idempotency-key': 'ä'.repeat(3) })).status).toBe(400)
    expect((await mgmt(w, tokens.owner, 'POST', '/licenses', body, { 'idempotency-key': 'x'.repeat(256) })).status).toBe(400)
  })

  it('10 concurrent identical creates with one key: one license, ten identical 201 answers', async () => {
    const body = { label: 'concurrent', externalId: 'sub_concurrent' }
    const answers = await Promise.all(Array.from({ length: 10 }, () => mgmt(w, tokens.owner, 'POST', '/licenses', body, { 'idempotency-key': 'concurrent-1' })))
    expect(answers.map(a => a.status)).toEqual(Array(10).fill(201))
    expect(new Set(answers.map(a => a.json.key)).size).toBe(1)
    expect(new Set(answers.map(a => a.json.license.id)).size).toBe(1)
    const { ctx } = w.context()
    expect(await ctx.db.select().from(licenses).where(eq(licenses.label, 'concurrent'))).toHaveLength(1)
  })

  it('a refused create frees its key: the corrected body creates', async () => {
    const h = { 'idempotency-key': 'fix-me' }
    expect((await mgmt(w, tokens.owner, 'POST', '/licenses', { product: 'no-such-product' }, h)).status).toBe(404)
    expect((await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'fixed' }, h)).status).toBe(201)
  })
})

describe('hostile input', () => {
  it('bad JSON, wrong types, unknown fields, huge bodies, wrong content type, bad ids: a 4xx in the error shape, nothing changed', async () => {
    const c = await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'target' })
    const id = c.json.license.id
    const before = await snapshot(w)
    const cases: [string, string, unknown, number, Record<string, string>?][] = [
      ['POST', '/licenses', '{"label":', 400],
      ['POST', '/licenses', '[1,2]', 400],
      ['POST', '/licenses', '"text"', 400],
      ['POST', '/licenses', 'null', 400],
      ['POST', '/licenses', '', 400],
      ['POST', '/licenses', { label: 42 }, 422],
      ['POST', '/licenses', { maxDevices: 1e308 }, 422],
      ['POST', '/licenses', { maxDevices: -1 }, 422],
      ['POST', '/licenses', { expiresIn: '5 days' }, 422],
      ['POST', '/licenses', { expiresAt: 'tomorrow' }, 422],
      ['POST', '/licenses', { expiresAt: '2030-01-01T00:00:00Z', expiresIn: '1d' }, 422],
      ['POST', '/licenses', { metadata: [] }, 422],
      ['POST', '/licenses', { metadata: { big: 'x'.repeat(5000) } }, 422],
      ['POST', '/licenses', { label: 'x'.repeat(101) }, 422],
      ['POST', '/licenses', { customerEmail: 'not-an-email' }, 422],
      ['POST', '/licenses', { isAdmin: true }, 422],
      ['POST', '/licenses', { __proto__: { label: 'x' }, ['constructor']: 1 }, 422],
      ['POST', '/licenses', '{"__proto__":{"ownerId":"usr_x"},"label":"p"}', 422],
      ['POST', '/licenses', JSON.stringify({ label: 'x'.repeat(20_000) }), 413],
      ['POST', '/licenses', { label: 'ok' }, 415, { 'content-type': 'text/plain' }],
      ['PATCH', `/licenses/${id}`, { status: 'active' }, 422],
      ['PATCH', `/licenses/${id}`, { maxDevices: 'many' }, 422],
      ['PATCH', '/licenses/lic_doesnotexist', { label: 'x' }, 404],
      ['PATCH', '/licenses/..%2F..%2Fetc', { label: 'x' }, 404],
      ['GET', `/licenses/${'a'.repeat(500)}`, undefined, 404],
      ['POST', `/licenses/${id}/renew`, { expiresIn: 12 }, 422],
      ['POST', `/licenses/${id}/suspend`, { reason: 'x' }, 422],
      ['POST', '/products', { name: '', slug: 'Bad Slug' }, 422],
      ['POST', '/products', { name: 'x', slug: 'x', defaults: { unknown: 1 } }, 422],
      ['POST', '/licenses/lookup', { key: 7 }, 422],
      ['DELETE', `/licenses/${id}/devices/not-an-id`, undefined, 404],
    ]
    for (const [method, path, body, status, headers] of cases) {
      const r = await mgmt(w, tokens.owner, method, path, body, headers)
      expect(r.status, `${method} ${path} ${typeof body === 'string' ? body.slice(0, 30) : JSON.stringify(body)?.slice(0, 60)}`).toBe(status)
      expect(r.json.error).toMatchObject({ code: expect.any(String), message: expect.any(String) })
      if (status === 422) expect(Object.keys(r.json.error.fields).length, r.text).toBeGreaterThan(0)
    }
    expect(await snapshot(w)).toBe(before)
  })

  it('a seeded fuzz of every route: 200 bodies each, never a 5xx', async () => {
    let seed = 12345
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!
    const values = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', 'x'.repeat(300), '2027-01-01T00:00:00Z', '30d', 'photo', 'prd_zz', 'lic_zz', [], [1], {}, { a: 1 }, '\u0000', '💥']
    const fields = ['label', 'product', 'expiresAt', 'expiresIn', 'renewal', 'maxDevices', 'metadata', 'customerEmail', 'customerName', 'externalId', 'ownerId', 'name', 'slug', 'defaults', 'key', 'junk']
    const c = await mgmt(w, tokens.owner, 'POST', '/licenses', { label: 'fuzz' })
    const lid = c.json.license.id
    const routes: [string, string][] = [
      ['POST', '/licenses'], ['PATCH', `/licenses/${lid}`], ['POST', `/licenses/${lid}/renew`], ['POST', `/licenses/${lid}/suspend`],
      ['POST', '/licenses/lookup'], ['POST', '/products'], ['PATCH', '/products/prd_nope'], ['GET', '/licenses'], ['GET', '/products'],
    ]
    const statuses = new Map<number, number>()
    for (const [method, path] of routes) {
      for (let i = 0; i < 200; i++) {
        let r
        if (method === 'GET') {
          const q = new URLSearchParams()
          for (let k = 0; k < 3; k++) q.set(pick(['limit', 'cursor', 'status', 'product', 'q', 'customerEmail', 'externalId', 'ownerId', 'x']), String(pick(values)))
          r = await mgmt(w, tokens.owner, 'GET', `${path}?${q}`)
        }
        else {
          const body: Record<string, unknown> = {}
          for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) body[pick(fields)] = pick(values)
          r = await mgmt(w, tokens.owner, method, path, rand() < 0.1 ? JSON.stringify(body).slice(0, -1) : body)
        }
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500)
      }
    }
    expect([...statuses.keys()].every(s => s < 500)).toBe(true)
  }, 240_000)

  it('no token secret and no license key in the database or the worker\'s logs', async () => {
    const dump = await snapshot(w)
    const logs = w.logs().join('\n')
    for (const t of Object.values(tokens)) {
      expect(dump).not.toContain(t)
      expect(dump).not.toContain(t.slice(3))
      expect(logs).not.toContain(t)
    }
  })
})




