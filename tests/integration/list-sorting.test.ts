import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { licensePageQuery } from '../../server/services/licenses'
import { productPageQuery } from '../../server/services/products'
import { userPageQuery } from '../../server/services/users'
import type { SortDirection } from '../../shared/schemas/common'
import { LICENSE_SORTS, type LicenseSort } from '../../shared/schemas/licenses'
import { PRODUCT_SORTS } from '../../shared/schemas/products'
import { USER_SORTS } from '../../shared/schemas/users'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

// Server-side sorting of the keyset-paged lists (docs/ui.md, "Sorting"): the order holds across
// page boundaries in both directions, ties are broken by id, and each sort is an index range.

let w: TestWorker
let admin: Caller
let user: Caller
let other: Caller
let userId = ''
const userEmails: string[] = []

beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  for (let i = 0; i < 5; i++) {
    const email = uniqueEmail(`sort-${i}`)
    userEmails.push(email)
    await admin.trpc.users.create.mutate({ email, password: 'sorting-password-1' })
  }
  user = new Caller(w.url)
  other = new Caller(w.url)
  userId = (await user.login(userEmails[0]!, 'sorting-password-1')).id
  await other.login(userEmails[1]!, 'sorting-password-1')

  const c = (label: string, extra: Record<string, unknown> = {}) => user.trpc.licenses.create.mutate({ label, ...extra })
  await c('beta', { customerName: 'Zoë Quinn', expiresAt: new Date('2031-01-01T00:00:00Z') })
  await c('Alpha', { customerEmail: 'b@example.com', expiresAt: new Date('2031-01-01T00:00:00Z') })
  await c('gamma', { externalId: 'ORDER-9' })
  await c('alpha', { customerName: 'adam', customerEmail: 'z@example.com', expiresAt: new Date('2029-06-01T00:00:00Z') })
  await c('')
  await c('Beta', { customerEmail: 'a@example.com', expiresAt: new Date('2030-03-01T00:00:00Z') })
  await c('same', { customerName: 'Same' })
  await c('same', { customerName: 'same' })
  await c('delta', { expiresIn: '14d' })
  // Another owner's licenses never show in the user's list.
  await other.trpc.licenses.create.mutate({ label: 'aaa other' })

  for (const name of ['Zeta', 'alpha', 'Same', 'same', 'Mid']) await user.trpc.products.create.mutate({ name, slug: `${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}` })
})
afterAll(async () => { await w?.close() })

type Row = { id: string, label: string, customerName: string | null, customerEmail: string | null, externalId: string | null, expiresAt: Date | null, createdAt: Date }
const LAST = '\u{10FFFF}'
const MAX_MS = Number.MAX_SAFE_INTEGER
const licenseKey: Record<LicenseSort, (r: Row) => string | number> = {
  createdAt: r => r.createdAt.getTime(),
  label: r => (r.label === '' ? LAST : r.label.toLowerCase()),
  customer: r => (r.customerName?.toLowerCase() ?? r.customerEmail ?? r.externalId?.toLowerCase() ?? LAST),
  expiresAt: r => r.expiresAt?.getTime() ?? MAX_MS,
}
/** The order the server must give: by key (ASCII test data: JS and SQLite compare alike), then id. */
function expected<R extends { id: string }>(rows: R[], key: (r: R) => string | number, dir: SortDirection): string[] {
  const cmp = (a: R, b: R) => {
    const x = key(a)
    const y = key(b)
    if (x !== y) return x < y ? -1 : 1
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  }
  return [...rows].sort((a, b) => (dir === 'asc' ? cmp(a, b) : -cmp(a, b))).map(r => r.id)
}

async function pageThrough<P extends { items: { id: string }[], nextCursor: string | null }>(fetchPage: (cursor?: string) => Promise<P>) {
  const ids: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await fetchPage(cursor)
    ids.push(...page.items.map(i => i.id))
    cursor = page.nextCursor ?? undefined
    pages++
  } while (cursor && pages < 50)
  return { ids, pages }
}

describe('licenses list: sorted on the server across pages', () => {
  const cases = LICENSE_SORTS.flatMap(by => (['asc', 'desc'] as const).map(dir => [by, dir] as const))
  it.each(cases)('by %s %s, 2 per page, ties by id', async (by, dir) => {
    const all = (await user.trpc.licenses.list.query({ limit: 100 })).items as Row[]
    expect(all).toHaveLength(9)
    const { ids, pages } = await pageThrough(cursor => user.trpc.licenses.list.query({ sort: { by, dir }, limit: 2, cursor }))
    expect(pages).toBe(5)
    expect(ids).toEqual(expected(all, licenseKey[by], dir))
  })

  it('the documented orders: empty labels and customers last ascending, perpetual as the latest expiry', async () => {
    const labels = (await user.trpc.licenses.list.query({ sort: { by: 'label', dir: 'asc' } })).items.map(l => l.label)
    expect(labels).toEqual([expect.stringMatching(/^alpha$/i), expect.stringMatching(/^alpha$/i), expect.stringMatching(/^beta$/i), expect.stringMatching(/^beta$/i), 'delta', 'gamma', 'same', 'same', ''])
    const customers = (await user.trpc.licenses.list.query({ sort: { by: 'customer', dir: 'asc' } })).items.map(l => l.customerName ?? l.customerEmail ?? l.externalId)
    expect(customers.slice(0, 4)).toEqual(['a@example.com', 'adam', 'b@example.com', 'order-9'.toUpperCase()])
    expect(customers.slice(-3)).toEqual(['Zoë Quinn', null, null])
    const expiries = (await user.trpc.licenses.list.query({ sort: { by: 'expiresAt', dir: 'desc' } })).items.map(l => l.expiresAt)
    expect(expiries.slice(0, 4)).toEqual([null, null, null, null])
    expect(expiries.at(-1)!.getTime()).toBeLessThan(Date.now() + 15 * 86_400_000)
  })

  it('filters and scope apply to a sorted list; an admin sees one owner\'s list in the same order', async () => {
    const mine = await pageThrough(cursor => user.trpc.licenses.list.query({ sort: { by: 'label', dir: 'desc' }, limit: 3, cursor }))
    const asAdmin = await pageThrough(cursor => admin.trpc.licenses.list.query({ ownerId: userId, sort: { by: 'label', dir: 'desc' }, limit: 3, cursor }))
    expect(asAdmin.ids).toEqual(mine.ids)
    const everyone = await pageThrough(cursor => admin.trpc.licenses.list.query({ sort: { by: 'label', dir: 'asc' }, limit: 4, cursor }))
    expect(everyone.ids).toHaveLength(10)
    const first = await admin.trpc.licenses.list.query({ sort: { by: 'label', dir: 'asc' }, limit: 1 })
    expect(first.items[0]!.label).toBe('aaa other')
    const same = (await user.trpc.licenses.list.query({ search: 'same' })).items as Row[]
    expect(same).toHaveLength(2)
    const { ids } = await pageThrough(cursor => user.trpc.licenses.list.query({ search: 'same', sort: { by: 'customer', dir: 'desc' }, limit: 1, cursor }))
    expect(ids).toEqual(expected(same, licenseKey.customer, 'desc'))
  })

  it('refuses an unknown column or direction, a malformed sort and a cursor of another order (400, nothing listed)', async () => {
    for (const sort of [{ by: 'devicesUsed', dir: 'asc' }, { by: 'label', dir: 'up' }, { by: 'label' }, { by: 'label', dir: 'asc', extra: 1 }, 'label', ['label', 'asc'], null]) {
      const e = await errorOf(user.trpc.licenses.list.query({ sort: sort as never }))
      expect(e.code, JSON.stringify(sort)).toBe('BAD_REQUEST')
      expect(e.status).toBe(400)
    }
    const byLabel = await user.trpc.licenses.list.query({ sort: { by: 'label', dir: 'asc' }, limit: 2 })
    const byDate = await user.trpc.licenses.list.query({ limit: 2 })
    for (const [sort, cursor] of [
      [{ by: 'label', dir: 'desc' }, byLabel.nextCursor],
      [{ by: 'customer', dir: 'asc' }, byLabel.nextCursor],
      [{ by: 'label', dir: 'asc' }, byDate.nextCursor],
      [{ by: 'label', dir: 'asc' }, 'label.asc.not-base64!'],
      [{ by: 'label', dir: 'asc' }, `label.asc.${btoa('{"a":1}')}`],
      [{ by: 'label', dir: 'asc' }, 'x'.repeat(2001)],
    ] as const) {
      const e = await errorOf(user.trpc.licenses.list.query({ sort: sort as never, cursor: cursor! }))
      expect(e.code, `${JSON.stringify(sort)} ${cursor}`).toBe('BAD_REQUEST')
    }
  })
})

describe('products and users lists: sorted on the server across pages', () => {
  it.each(PRODUCT_SORTS.flatMap(by => (['asc', 'desc'] as const).map(dir => [by, dir] as const)))('products by %s %s', async (by, dir) => {
    const all = (await user.trpc.products.list.query({})).items
    expect(all).toHaveLength(5)
    const key = by === 'name' ? (p: typeof all[number]) => p.name.toLowerCase() : (p: typeof all[number]) => new Date(p.createdAt).getTime()
    const { ids } = await pageThrough(cursor => user.trpc.products.list.query({ sort: { by, dir }, limit: 2, cursor }))
    expect(ids).toEqual(expected(all, key, dir))
  })

  it.each(USER_SORTS.flatMap(by => (['asc', 'desc'] as const).map(dir => [by, dir] as const)))('users by %s %s', async (by, dir) => {
    const all = (await admin.trpc.users.list.query({ limit: 100 })).items
    expect(all.length).toBeGreaterThanOrEqual(6)
    const key = by === 'email' ? (u: typeof all[number]) => u.email : (u: typeof all[number]) => (u.lastLoginAt ? new Date(u.lastLoginAt).getTime() : 0)
    const { ids } = await pageThrough(cursor => admin.trpc.users.list.query({ sort: { by, dir }, limit: 2, cursor }))
    expect(ids).toEqual(expected(all, key, dir))
  })

  it('refuses bad sorts on products and users (400)', async () => {
    expect((await errorOf(user.trpc.products.list.query({ sort: { by: 'licenseCount', dir: 'asc' } as never }))).code).toBe('BAD_REQUEST')
    expect((await errorOf(admin.trpc.users.list.query({ sort: { by: 'activeSessions', dir: 'desc' } as never }))).code).toBe('BAD_REQUEST')
    expect((await errorOf(admin.trpc.users.list.query({ sort: { by: 'email', dir: 'desc' }, cursor: 'someone@example.com' }))).code).toBe('BAD_REQUEST')
  })
})

describe('query plans: every sort is an index range, never a sort of the table', () => {
  const planOf = async (q: { sql: string, params: unknown[] }) => {
    const plan = await w.env.DB.prepare(`explain query plan ${q.sql}`).bind(...q.params).all()
    return (plan.results as { detail: string }[]).map(r => r.detail).join('\n')
  }
  const sortedCases = LICENSE_SORTS.filter(s => s !== 'createdAt').flatMap(by => (['asc', 'desc'] as const).map(dir => [by, dir] as const))
  it.each(sortedCases)('licenses by %s %s (owner and admin, first and later page)', async (by, dir) => {
    const { ctx } = w.context()
    const cursor = (await user.trpc.licenses.list.query({ sort: { by, dir }, limit: 1 })).nextCursor!
    for (const scope of [{ ownerId: 'usr_x' }, { all: true as const }]) {
      for (const c of [undefined, cursor]) {
        const details = await planOf(licensePageQuery(ctx, scope, { sort: { by, dir }, limit: 50, cursor: c }).query.toSQL())
        expect(details, details).not.toMatch(/TEMP B-TREE/)
        expect(details, details).toMatch(new RegExp(`licenses_${'ownerId' in scope ? 'owner_' : ''}${by === 'expiresAt' ? 'expires' : by}_sort_idx`))
      }
    }
  })

  it('products by name and users by last sign-in (both directions)', async () => {
    const { ctx } = w.context()
    for (const dir of ['asc', 'desc'] as const) {
      for (const scope of [{ ownerId: 'usr_x' }, { all: true as const }]) {
        const details = await planOf(productPageQuery(ctx, scope, { sort: { by: 'name', dir }, limit: 100 }).query.toSQL())
        expect(details, details).not.toMatch(/TEMP B-TREE/)
        expect(details, details).toMatch(/products_(owner_)?name_sort_idx/)
      }
      const details = await planOf(userPageQuery(ctx, { sort: { by: 'lastLoginAt', dir }, limit: 50 }).query.toSQL())
      expect(details, details).not.toMatch(/TEMP B-TREE/)
      expect(details, details).toMatch(/users_last_login_sort_idx/)
      const byEmail = await planOf(userPageQuery(ctx, { sort: { by: 'email', dir }, limit: 50 }).query.toSQL())
      expect(byEmail, byEmail).not.toMatch(/TEMP B-TREE/)
    }
  })
})
