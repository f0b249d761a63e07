import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, licenses, products } from '../../db/schema'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { snapshot } from '../support/authz'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let admin: Caller
let seller: Caller
let other: Caller
let sellerId = ''
let otherId = ''

beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const emails = [uniqueEmail('prd-seller'), uniqueEmail('prd-other')]
  for (const email of emails) await admin.trpc.users.create.mutate({ email, password: 'product-password-1' })
  seller = new Caller(w.url)
  other = new Caller(w.url)
  sellerId = (await seller.login(emails[0]!, 'product-password-1')).id
  otherId = (await other.login(emails[1]!, 'product-password-1')).id
})
afterAll(async () => { await w?.close() })

const DAY = 86_400_000
const near = (a: Date | null | undefined, b: number, ms = 60_000) => a != null && Math.abs(a.getTime() - b) < ms
let n = 0
const slug = (base: string) => `${base}-${++n}`

async function productEvents(id: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(events).where(eq(events.subjectId, id))
}

describe('products', () => {
  it('create with defaults, list with license counts, get, update, delete', async () => {
    const p = await seller.trpc.products.create.mutate({ name: 'Photo Pro', slug: slug('photo-pro'), defaults: { expiresIn: '1y', renewalPeriod: '1y', maxDevices: 3, metadata: { tier: 'pro' } } })
    expect(p).toMatchObject({ ownerId: sellerId, name: 'Photo Pro', defaults: { expiresIn: '1y', renewalPeriod: '1y', maxDevices: 3, metadata: { tier: 'pro' } }, licenseCount: 0 })
    expect(p.id).toMatch(/^prd_/)
    await seller.trpc.licenses.create.mutate({ product: p.id })
    await seller.trpc.licenses.create.mutate({ product: p.slug })
    const listed = await seller.trpc.products.list.query({})
    expect(listed.items.find(x => x.id === p.id)?.licenseCount).toBe(2)
    expect((await seller.trpc.products.get.query({ id: p.id })).licenseCount).toBe(2)

    const renamed = await seller.trpc.products.update.mutate({ id: p.id, name: 'Photo Pro 2', slug: slug('photo-pro-2'), defaults: { maxDevices: 5 } })
    expect(renamed).toMatchObject({ name: 'Photo Pro 2', defaults: { maxDevices: 5 }, licenseCount: 2 })
    expect((await productEvents(p.id)).map(e => [e.type, e.actorType, e.actorId, e.ownerId])).toEqual([
      ['product.created', 'user', sellerId, sellerId],
      ['product.updated', 'user', sellerId, sellerId],
    ])
    // Nothing to change: no write, no event.
    await seller.trpc.products.update.mutate({ id: p.id, name: 'Photo Pro 2' })
    expect(await productEvents(p.id)).toHaveLength(2)

    const unused = await seller.trpc.products.create.mutate({ name: 'Unused', slug: slug('unused') })
    expect(unused.defaults).toEqual({})
    expect(await seller.trpc.products.delete.mutate({ id: unused.id })).toEqual({ ok: true })
    expect((await errorOf(seller.trpc.products.get.query({ id: unused.id }))).code).toBe('NOT_FOUND')
    expect((await productEvents(unused.id)).map(e => e.type)).toEqual(['product.created', 'product.deleted'])
  })

  it('deleting a product that licenses use: CONFLICT, and nothing is deleted', async () => {
    const p = await seller.trpc.products.create.mutate({ name: 'In use', slug: slug('in-use') })
    const l = await seller.trpc.licenses.create.mutate({ product: p.id })
    const before = await snapshot(w)
    const e = await errorOf(seller.trpc.products.delete.mutate({ id: p.id }))
    expect(e).toMatchObject({ code: 'CONFLICT', message: '1 license uses this product: move or delete it first' })
    expect(await snapshot(w)).toBe(before)
    // Moved off the product, the license no longer holds it.
    expect((await seller.trpc.licenses.update.mutate({ id: l.license.id, product: null })).product).toBeNull()
    expect(await seller.trpc.products.delete.mutate({ id: p.id })).toEqual({ ok: true })
  })

  it('slugs are unique per owner: a clear CONFLICT, also for 6 concurrent creates (one product, one event)', async () => {
    const s = slug('dup')
    await seller.trpc.products.create.mutate({ name: 'First', slug: s })
    const before = await snapshot(w)
    const e = await errorOf(seller.trpc.products.create.mutate({ name: 'Second', slug: s }))
    expect(e).toMatchObject({ code: 'CONFLICT', fieldErrors: { slug: ['You already have a product with this slug'] } })
    expect(await snapshot(w)).toBe(before)
    // Another owner may use the same slug.
    expect((await other.trpc.products.create.mutate({ name: 'Theirs', slug: s })).ownerId).toBe(otherId)

    const race = slug('race')
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => seller.trpc.products.create.mutate({ name: `Racer ${i}`, slug: race })))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter(r => r.status === 'rejected')) expect(((r as PromiseRejectedResult).reason as { data: { code: string } }).data.code).toBe('CONFLICT')
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(products).where(eq(products.slug, race))
    expect(rows).toHaveLength(1)
    expect((await productEvents(rows[0]!.id)).map(x => x.type)).toEqual(['product.created'])

    // Renaming onto a taken slug: CONFLICT, unchanged.
    const third = await seller.trpc.products.create.mutate({ name: 'Third', slug: slug('third') })
    expect((await errorOf(seller.trpc.products.update.mutate({ id: third.id, slug: s }))).code).toBe('CONFLICT')
    expect((await seller.trpc.products.get.query({ id: third.id })).slug).toBe(third.slug)
  })

  it('hostile input: a clear 400 with field errors, and nothing written', async () => {
    const before = await snapshot(w)
    const bad: [string, unknown, string][] = [
      ['slug with capitals', { name: 'X', slug: 'Photo' }, 'slug'],
      ['slug with a space', { name: 'X', slug: 'a b' }, 'slug'],
      ['slug starting with a dash', { name: 'X', slug: '-a' }, 'slug'],
      ['slug over 63', { name: 'X', slug: 'a'.repeat(64) }, 'slug'],
      ['empty name', { name: '  ', slug: 'ok' }, 'name'],
      ['long name', { name: 'n'.repeat(101), slug: 'ok' }, 'name'],
      ['number name', { name: 42, slug: 'ok' }, 'name'],
      ['unknown default', { name: 'X', slug: 'ok', defaults: { seats: 3 } }, 'defaults'],
      ['grace without an expiry', { name: 'X', slug: 'ok', defaults: { grace: '7d' } }, 'defaults'],
      ['lease under a minute', { name: 'X', slug: 'ok', defaults: { leaseDuration: '30s' } }, 'defaults'],
      ['churn count zero', { name: 'X', slug: 'ok', defaults: { maxActivationsPerPeriod: { count: 0, period: '30d' } } }, 'defaults'],
      ['bad duration', { name: 'X', slug: 'ok', defaults: { expiresIn: 'forever' } }, 'defaults'],
      ['huge devices', { name: 'X', slug: 'ok', defaults: { maxDevices: 1e12 } }, 'defaults'],
      ['negative devices', { name: 'X', slug: 'ok', defaults: { maxDevices: -1 } }, 'defaults'],
      ['metadata array', { name: 'X', slug: 'ok', defaults: { metadata: [1] } }, 'defaults'],
      ['metadata over 4 KiB', { name: 'X', slug: 'ok', defaults: { metadata: { big: 'x'.repeat(5000) } } }, 'defaults'],
      ['defaults not an object', { name: 'X', slug: 'ok', defaults: 'all' }, 'defaults'],
    ]
    for (const [what, input, field] of bad) {
      const e = await errorOf(seller.raw.mutation('products.create', input))
      expect(e.code, what).toBe('BAD_REQUEST')
      expect(Object.keys(e.fieldErrors ?? {}), what).toContain(field)
    }
    for (const [what, call] of [
      ['bad id', () => seller.raw.query('products.get', { id: '../x' })],
      ['bad cursor', () => seller.raw.query('products.list', { cursor: 'garbage' })],
      ['huge limit', () => seller.raw.query('products.list', { limit: 10_000 })],
      ['update bad slug', () => seller.raw.mutation('products.update', { id: 'prd_x', slug: 'NO' })],
      ['delete missing', () => seller.raw.mutation('products.delete', { id: 'prd_doesnotexist' })],
    ] as const) {
      const e = await errorOf(call())
      expect(e.status, what).toBeGreaterThanOrEqual(400)
      expect(e.status, what).toBeLessThan(500)
    }
    expect(await snapshot(w)).toBe(before)
  })
})

describe('licenses for a product', () => {
  it('a product fills the fields a create leaves unset; what the create sets wins, even null', async () => {
    const p = await seller.trpc.products.create.mutate({ name: 'Defaults', slug: slug('defaults'), defaults: { expiresIn: '30d', renewalPeriod: '1mo', maxDevices: 2, metadata: { tier: 'pro' } } })
    const filled = await seller.trpc.licenses.create.mutate({ product: p.slug, label: 'filled' })
    expect(filled.license).toMatchObject({ productId: p.id, product: { id: p.id, slug: p.slug, name: 'Defaults' }, renewalPeriod: '1mo', maxDevices: 2, metadata: { tier: 'pro' } })
    expect(near(filled.license.expiresAt, Date.now() + 30 * DAY)).toBe(true)

    const own = await seller.trpc.licenses.create.mutate({ product: p.id, expiresAt: null, renewalPeriod: null, maxDevices: null, metadata: { tier: 'basic' } })
    expect(own.license).toMatchObject({ expiresAt: null, renewalPeriod: null, maxDevices: null, metadata: { tier: 'basic' } })
    const dated = await seller.trpc.licenses.create.mutate({ product: p.id, expiresIn: '14d', maxDevices: 9 })
    expect(near(dated.license.expiresAt, Date.now() + 14 * DAY)).toBe(true)
    expect(dated.license).toMatchObject({ maxDevices: 9, renewalPeriod: '1mo' })

    // The detail page and the list show the product.
    expect((await seller.trpc.licenses.get.query({ id: filled.license.id })).product).toEqual({ id: p.id, slug: p.slug, name: 'Defaults' })
    const byId = await seller.trpc.licenses.list.query({ product: p.id })
    expect(byId.items.map(l => l.id).sort()).toEqual([filled.license.id, own.license.id, dated.license.id].sort())
    expect((await seller.trpc.licenses.list.query({ product: p.slug })).items).toHaveLength(3)
    expect(byId.items.every(l => l.product?.slug === p.slug)).toBe(true)
  })

  it("a license's product is always its owner's: another owner's product is NOT_FOUND, nothing written", async () => {
    const theirs = await other.trpc.products.create.mutate({ name: 'Theirs', slug: slug('theirs') })
    const mine = await seller.trpc.licenses.create.mutate({ label: 'mine' })
    const before = await snapshot(w)
    for (const ref of [theirs.id, theirs.slug, 'prd_doesnotexist', 'no-such-slug']) {
      expect(await errorOf(seller.trpc.licenses.create.mutate({ product: ref }))).toMatchObject({ code: 'NOT_FOUND', fieldErrors: { product: ['No such product'] } })
      expect((await errorOf(seller.trpc.licenses.update.mutate({ id: mine.license.id, product: ref }))).code).toBe('NOT_FOUND')
    }
    // An admin creating for the seller: the product must be the seller's too.
    expect((await errorOf(admin.trpc.licenses.create.mutate({ ownerId: sellerId, product: theirs.id }))).code).toBe('NOT_FOUND')
    expect(await snapshot(w)).toBe(before)
    const forOther = await admin.trpc.licenses.create.mutate({ ownerId: otherId, product: theirs.slug })
    expect(forOther.license).toMatchObject({ ownerId: otherId, productId: theirs.id })
  })

  it('moving a license to another product and back to none', async () => {
    const a = await seller.trpc.products.create.mutate({ name: 'A', slug: slug('a') })
    const b = await seller.trpc.products.create.mutate({ name: 'B', slug: slug('b') })
    const l = await seller.trpc.licenses.create.mutate({ product: a.id })
    const moved = await seller.trpc.licenses.update.mutate({ id: l.license.id, product: b.slug })
    expect(moved.product).toEqual({ id: b.id, slug: b.slug, name: 'B' })
    expect((await seller.trpc.licenses.update.mutate({ id: l.license.id, product: null })).productId).toBeNull()
    const { ctx } = w.context()
    const updates = await ctx.db.select().from(events).where(eq(events.subjectId, l.license.id))
    expect(updates.filter(e => e.type === 'license.updated').map(e => e.detail)).toEqual([{ changed: ['product'] }, { changed: ['product'] }])
  })
})

describe('customer fields', () => {
  it('set on create, edited and cleared; searched and filtered', async () => {
    const l = await seller.trpc.licenses.create.mutate({ label: 'Customer', customerEmail: ' Jane.Doe@Example.COM ', customerName: 'Jane Doe', externalId: 'sub_1NqX' })
    expect(l.license).toMatchObject({ customerEmail: 'jane.doe@example.com', customerName: 'Jane Doe', externalId: 'sub_1NqX' })
    for (const search of ['jane.doe@', 'JANE DOE', 'sub_1nq']) {
      expect((await seller.trpc.licenses.list.query({ search })).items.map(x => x.id), search).toContain(l.license.id)
    }
    expect((await seller.trpc.licenses.list.query({ customerEmail: 'JANE.DOE@example.com' })).items.map(x => x.id)).toEqual([l.license.id])
    expect((await seller.trpc.licenses.list.query({ externalId: 'sub_1NqX' })).items.map(x => x.id)).toEqual([l.license.id])
    expect((await seller.trpc.licenses.list.query({ externalId: 'sub_1nqx' })).items).toEqual([]) // exact
    // Another owner's customers are not found by their search.
    expect((await other.trpc.licenses.list.query({ customerEmail: 'jane.doe@example.com' })).items).toEqual([])

    const edited = await seller.trpc.licenses.update.mutate({ id: l.license.id, customerName: 'Jane Roe', externalId: null })
    expect(edited).toMatchObject({ customerEmail: 'jane.doe@example.com', customerName: 'Jane Roe', externalId: null })
    expect((await seller.trpc.licenses.get.query({ id: l.license.id })).customerName).toBe('Jane Roe')
  })

  it('externalId is unique per owner: CONFLICT on create and update (nothing changed); 8 concurrent creates give one license', async () => {
    await seller.trpc.licenses.create.mutate({ externalId: 'order-1042' })
    const second = await seller.trpc.licenses.create.mutate({ externalId: 'order-1043' })
    const before = await snapshot(w)
    expect(await errorOf(seller.trpc.licenses.create.mutate({ externalId: 'order-1042' }))).toMatchObject({ code: 'CONFLICT', fieldErrors: { externalId: ['Another license of this owner has this external id'] } })
    expect((await errorOf(seller.trpc.licenses.update.mutate({ id: second.license.id, externalId: 'order-1042', label: 'renamed' }))).code).toBe('CONFLICT')
    expect(await snapshot(w)).toBe(before)
    // Setting its own value again is no conflict; another owner may use the same id.
    expect((await seller.trpc.licenses.update.mutate({ id: second.license.id, externalId: 'order-1043' })).externalId).toBe('order-1043')
    expect((await other.trpc.licenses.create.mutate({ externalId: 'order-1042' })).license.externalId).toBe('order-1042')

    const results = await Promise.allSettled(Array.from({ length: 8 }, () => seller.trpc.licenses.create.mutate({ externalId: 'order-race' })))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter(r => r.status === 'rejected')) expect(((r as PromiseRejectedResult).reason as { data: { code: string } }).data.code).toBe('CONFLICT')
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(licenses).where(eq(licenses.externalId, 'order-race'))
    expect(rows).toHaveLength(1)
    expect((await ctx.db.select().from(events).where(eq(events.subjectId, rows[0]!.id))).map(e => e.type)).toEqual(['license.created'])
  })

  it('hostile customer fields: a clear 400 with field errors, nothing written', async () => {
    const mine = await seller.trpc.licenses.create.mutate({})
    const before = await snapshot(w)
    const bad: [string, Record<string, unknown>, string][] = [
      ['not an email', { customerEmail: 'jane' }, 'customerEmail'],
      ['email too long', { customerEmail: `${'a'.repeat(250)}@example.com` }, 'customerEmail'],
      ['email a number', { customerEmail: 5 }, 'customerEmail'],
      ['name too long', { customerName: 'n'.repeat(201) }, 'customerName'],
      ['external id too long', { externalId: 'x'.repeat(201) }, 'externalId'],
      ['external id with a newline', { externalId: 'a\nb' }, 'externalId'],
      ['external id an object', { externalId: { $gt: '' } }, 'externalId'],
      ['product not a string', { product: ['prd_x'] }, 'product'],
      ['product not an id or slug', { product: 'Robert"); drop table' }, 'product'],
    ]
    for (const [what, input, field] of bad) {
      for (const call of [() => seller.raw.mutation('licenses.create', input), () => seller.raw.mutation('licenses.update', { id: mine.license.id, ...input })]) {
        const e = await errorOf(call())
        expect(e.code, what).toBe('BAD_REQUEST')
        expect(Object.keys(e.fieldErrors ?? {}), what).toContain(field)
      }
    }
    expect(await snapshot(w)).toBe(before)
  })
})
