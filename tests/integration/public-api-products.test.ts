import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices, events, licenses, webhookDeliveries } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { lookupQuery } from '../../server/services/validation'
import { Caller, uniqueEmail } from '../support/client'
import { api, setLicense } from '../support/licenses'
import { WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/** The public routes' optional `product` (a slug): PRODUCT_MISMATCH, and customer data never leaving. */

let w: TestWorker
let seller: Caller
let sellerId = ''
const receiver = new WebhookReceiver()
const bodies: string[] = []
const CUSTOMER = { customerEmail: 'secret.customer@example.org', customerName: 'Customer Nameless', externalId: 'ext-7f3a9-order' }

beforeAll(async () => {
  await receiver.start()
  // Local receivers on loopback only, for the payload check below.
  w = await startWorker({ vars: { WEBHOOKS_ALLOW_PRIVATE: 'true' } })
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const email = uniqueEmail('pub-prd')
  await admin.trpc.users.create.mutate({ email, password: 'product-password-1' })
  seller = new Caller(w.url)
  sellerId = (await seller.login(email, 'product-password-1')).id
  await seller.trpc.products.create.mutate({ name: 'Editor', slug: 'editor' })
  await seller.trpc.products.create.mutate({ name: 'Viewer', slug: 'viewer' })
  await seller.trpc.webhooks.create.mutate({ url: `${receiver.url}/hooks`, allEvents: true, eventTypes: ['license.validated'] })
})
afterAll(async () => {
  await w?.close()
  await receiver.close()
})

async function call(route: string, body: Record<string, unknown>) {
  const r = await api(w, route, body)
  bodies.push(r.text)
  return r
}

async function licenseFor(product: string | null, extra: Record<string, unknown> = {}) {
  return await seller.trpc.licenses.create.mutate({ product, maxDevices: 2, metadata: { tier: 'pro' }, ...CUSTOMER, externalId: `${CUSTOMER.externalId}-${Math.random().toString(36).slice(2)}`, ...extra })
}

async function deviceCount(licenseId: string) {
  const { ctx } = w.context()
  return (await ctx.db.select().from(devices).where(eq(devices.licenseId, licenseId))).length
}

describe('PRODUCT_MISMATCH on the public routes', () => {
  it('verify: another product or none is PRODUCT_MISMATCH with no license; the right slug or no product as usual', async () => {
    const editor = await licenseFor('editor')
    const plain = await licenseFor(null)
    for (const [key, product] of [[editor.key, 'viewer'], [editor.key, 'no-such-product'], [editor.key, 'Editor'], [plain.key, 'editor']] as const) {
      const r = await call('verify', { key, product })
      expect(r.status).toBe(200)
      expect(r.json, `${product}`).toEqual({ valid: false, status: 'inactive', code: 'PRODUCT_MISMATCH' })
    }
    expect((await call('verify', { key: editor.key, product: 'editor' })).json).toMatchObject({ valid: true, code: 'VALID', license: { metadata: { tier: 'pro' } } })
    expect((await call('verify', { key: editor.key })).json.code).toBe('VALID')
    expect((await call('verify', { key: plain.key })).json.code).toBe('VALID')
    // First match wins: NOT_FOUND, then PRODUCT_MISMATCH, then SUSPENDED / EXPIRED.
    expect((await call('verify', { key: generateKey().key, product: 'editor' })).json).toEqual({ valid: false, status: 'inactive', code: 'NOT_FOUND' })
    await seller.trpc.licenses.suspend.mutate({ id: editor.license.id })
    expect((await call('verify', { key: editor.key, product: 'viewer' })).json.code).toBe('PRODUCT_MISMATCH')
    expect((await call('verify', { key: editor.key, product: 'editor' })).json.code).toBe('SUSPENDED')
    await setLicense(w, plain.license.id, { expiresAt: new Date(Date.now() - 1000) })
    expect((await call('verify', { key: plain.key, product: 'editor' })).json.code).toBe('PRODUCT_MISMATCH')
    expect((await call('verify', { key: plain.key })).json.code).toBe('EXPIRED')
  })

  it('activate: PRODUCT_MISMATCH takes no seat and tells nothing about devices', async () => {
    const l = await licenseFor('editor')
    const r = await call('activate', { key: l.key, fingerprint: 'fp-1', name: 'laptop', product: 'viewer' })
    expect(r.json).toEqual({ activated: false, code: 'PRODUCT_MISMATCH' })
    expect(await deviceCount(l.license.id)).toBe(0)
    expect((await call('activate', { key: l.key, fingerprint: 'fp-1', product: 'editor' })).json).toEqual({ activated: true, code: 'ACTIVATED', devices: { used: 1, max: 2 } })
    // Already activated, but named for the wrong product: still a mismatch, not ALREADY_ACTIVATED.
    expect((await call('activate', { key: l.key, fingerprint: 'fp-1', product: 'viewer' })).json).toEqual({ activated: false, code: 'PRODUCT_MISMATCH' })
    expect((await call('verify', { key: l.key, fingerprint: 'fp-1', product: 'viewer' })).json.code).toBe('PRODUCT_MISMATCH')
    expect((await call('verify', { key: l.key, fingerprint: 'fp-1', product: 'editor' })).json.code).toBe('VALID')
  })

  it('deactivate: PRODUCT_MISMATCH frees nothing', async () => {
    const l = await licenseFor('editor')
    await call('activate', { key: l.key, fingerprint: 'fp-2', product: 'editor' })
    expect((await call('deactivate', { key: l.key, fingerprint: 'fp-2', product: 'viewer' })).json).toEqual({ deactivated: false, code: 'PRODUCT_MISMATCH' })
    expect(await deviceCount(l.license.id)).toBe(1)
    expect((await call('deactivate', { key: l.key, fingerprint: 'fp-2', product: 'editor' })).json).toEqual({ deactivated: true, code: 'DEACTIVATED', devices: { used: 0, max: 2 } })
  })

  it('a product that is not a non-empty string of at most 256 characters is 400 BAD_REQUEST', async () => {
    const l = await licenseFor('editor')
    for (const product of [42, true, null, ['editor'], { slug: 'editor' }, '', 'e'.repeat(257)]) {
      for (const route of ['verify', 'activate', 'deactivate']) {
        const r = await call(route, { key: l.key, fingerprint: 'fp', product })
        expect(r.status, `${route} ${JSON.stringify(product)}`).toBe(400)
        expect(r.json.error.code).toBe('BAD_REQUEST')
        expect(r.json.error.message).toMatch(/"product"/)
      }
    }
    expect(await deviceCount(l.license.id)).toBe(0)
  })

  it('the mismatch is decided on the one lookup read: the product by primary key in the same statement', async () => {
    const { ctx } = w.context()
    const q = lookupQuery(ctx.db, ['d1'], 'fp').toSQL()
    const plan = await w.env.DB.prepare(`explain query plan ${q.sql}`).bind(...q.params).all()
    const details = (plan.results as { detail: string }[]).map(r => r.detail).join('\n')
    expect(details, details).toMatch(/SEARCH p USING INDEX sqlite_autoindex_products_1 \(id=\?\)/)
    expect(details.replace(/SCAN json_each VIRTUAL TABLE.*/g, '')).not.toMatch(/SCAN/)
  })

  it('each mismatch is in the log with its route and outcome (written after the answer)', async () => {
    const l = await licenseFor('editor')
    await call('verify', { key: l.key, product: 'viewer' })
    await call('activate', { key: l.key, fingerprint: 'x', product: 'viewer' })
    await call('deactivate', { key: l.key, fingerprint: 'x', product: 'viewer' })
    const { ctx } = w.context()
    let rows: (typeof events.$inferSelect)[] = []
    for (let i = 0; i < 100 && rows.length < 3; i++) {
      rows = (await ctx.db.select().from(events).where(eq(events.subjectId, l.license.id))).filter(e => e.type.startsWith('validation.'))
      if (rows.length < 3) await new Promise(r => setTimeout(r, 50))
    }
    expect(rows.map(r => [r.type, r.outcome, r.ownerId, r.detail?.product]).sort()).toEqual([
      ['validation.activate', 'PRODUCT_MISMATCH', sellerId, 'viewer'],
      ['validation.deactivate', 'PRODUCT_MISMATCH', sellerId, 'viewer'],
      ['validation.verify', 'PRODUCT_MISMATCH', sellerId, 'viewer'],
    ])
  })
})

describe('customer data stays with the seller', () => {
  it('never in a public answer, an event detail or a webhook payload', async () => {
    const l = await licenseFor('editor')
    await seller.trpc.licenses.update.mutate({ id: l.license.id, customerName: 'Another Secret Name', label: 'edited' })
    await call('activate', { key: l.key, fingerprint: 'fp-c', product: 'editor' })
    await call('verify', { key: l.key, fingerprint: 'fp-c' })
    // The validated webhook of that verify is written with the batched call events: wait for it.
    const { ctx } = w.context()
    for (let i = 0; i < 100; i++) {
      const validated = await ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventType, 'license.validated'))
      if (validated.length) break
      await new Promise(r => setTimeout(r, 50))
    }
    const [row] = await ctx.db.select().from(licenses).where(eq(licenses.id, l.license.id))
    const secrets = [CUSTOMER.customerEmail, CUSTOMER.customerName, 'Another Secret Name', row!.externalId!, CUSTOMER.externalId]
    const stored = JSON.stringify({
      events: await ctx.db.select().from(events),
      deliveries: await ctx.db.select().from(webhookDeliveries),
    })
    expect(stored).toContain('license.created') // the scan sees the log and the payloads…
    expect(stored).toContain('license.validated')
    for (const s of secrets) {
      expect(stored.includes(s), `stored: ${s}`).toBe(false) // …and no customer field in them
      expect(bodies.join('\n').includes(s), `answered: ${s}`).toBe(false)
    }
    expect(bodies.length).toBeGreaterThan(20)
  })
})
