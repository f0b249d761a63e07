import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { Caller, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * What a user sees of what others did on their data (docs/system-log.md): an administrator's
 * actions show as "an administrator" — never that person's id, email, IP or user agent, not even
 * through a search or an IP filter.
 */
let w: TestWorker
let admin: Caller
const ADMIN_IP = '2001:db8:ad:1::7'
const ADMIN_AGENT = 'AdminWorkstation/3.1'

beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url, ADMIN_IP, ADMIN_AGENT)
  await admin.login(w.admin.email, w.admin.password)
})
afterAll(async () => { await w?.close() })

describe('a user\'s view of the log', () => {
  it('shows an administrator\'s actions as "an administrator", with no id, email, IP or user agent', async () => {
    const email = uniqueEmail('privacy')
    const { user } = await admin.trpc.users.create.mutate({ email, password: 'privacy-password-1' })
    const owner = new Caller(w.url, '198.51.100.23', 'OwnerBrowser/1.0')
    await owner.login(email, 'privacy-password-1')
    const { license } = await owner.trpc.licenses.create.mutate({ label: 'watched' })
    await admin.trpc.licenses.suspend.mutate({ id: license.id })
    await admin.trpc.licenses.update.mutate({ id: license.id, label: 'edited by admin' })
    await admin.trpc.users.update.mutate({ id: user.id, name: 'Renamed by admin' })

    const mine = await owner.trpc.log.mine.query({ limit: 100 })
    const byAdmin = mine.items.filter(e => ['license.suspended', 'license.updated', 'user.updated'].includes(e.type))
    expect(byAdmin).toHaveLength(3)
    for (const e of byAdmin) {
      expect(e).toMatchObject({ actorType: 'user', actorId: null, actorEmail: null, actorLabel: 'an administrator', ip: null, userAgent: null, country: null })
    }
    // The owner's own actions keep their details.
    expect(mine.items.find(e => e.type === 'license.created')).toMatchObject({ actorId: user.id, actorEmail: email, ip: '198.51.100.23', userAgent: 'OwnerBrowser/1.0' })
    const text = JSON.stringify(mine)
    for (const leak of [w.admin.id, w.admin.email, ADMIN_IP, ADMIN_AGENT]) expect(text).not.toContain(leak)

    // The license page's history, the same.
    const page = await owner.trpc.licenses.get.query({ id: license.id })
    expect(page.events.filter(e => e.actorLabel === 'an administrator').map(e => e.type).sort()).toEqual(['license.suspended', 'license.updated'])
    expect(JSON.stringify(page)).not.toContain(ADMIN_IP)

    // Searching for the administrator's address or browser, or filtering by their IP, finds nothing.
    for (const search of ['2001:db8:ad', 'AdminWorkstation']) expect((await owner.trpc.log.mine.query({ search, limit: 100 })).items, search).toHaveLength(0)
    expect((await owner.trpc.log.mine.query({ ip: ADMIN_IP, limit: 100 })).items).toHaveLength(0)
    // The admin's own view keeps everything (their audit trail).
    const all = await admin.trpc.log.list.query({ ip: ADMIN_IP, limit: 100 })
    expect(all.items.filter(e => e.ownerId === user.id).map(e => e.type).sort()).toEqual(['license.suspended', 'license.updated', 'user.created', 'user.updated'])
  })

  it('after everything above, no event detail holds a URL query string', async () => {
    const c = new Caller(w.url)
    await c.login(w.admin.email, w.admin.password)
    await c.trpc.webhooks.create.mutate({ url: 'https://hooks.example.com/in?token=q-secret-1', enabled: false })
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events)
    expect(JSON.stringify(rows)).not.toContain('q-secret-1')
    for (const r of rows) {
      const url = (r.detail as { url?: string } | null)?.url
      if (url) expect(url, r.type).not.toMatch(/\?[^…]/)
    }
  })
})
