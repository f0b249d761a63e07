import { and, eq, inArray } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, webhookDeliveries } from '../../db/schema'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { setLicense } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * The scheduled side of time-based licensing, on a production-like worker (no local allowances):
 * expiry announcements through repeated cron runs, and the SSRF guard for webhook URLs.
 */
let w: TestWorker
let user: Caller
const DAY = 86_400_000
const CRON = '* * * * *'

beforeAll(async () => {
  w = await startWorker()
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const email = uniqueEmail('expiry')
  await admin.trpc.users.create.mutate({ email, password: 'expiry-password-1' })
  user = new Caller(w.url)
  await user.login(email, 'expiry-password-1')
})
afterAll(async () => { await w?.close() })

async function announcements(licenseIds: string[]) {
  const { ctx } = w.context()
  const rows = await ctx.db.select({ type: events.type, subjectId: events.subjectId }).from(events)
    .where(and(inArray(events.subjectId, licenseIds), inArray(events.type, ['license.expiring', 'license.expired'])))
  const count = (id: string, type: string) => rows.filter(r => r.subjectId === id && r.type === type).length
  return { count }
}

describe('expiry announcements (cron)', () => {
  it('each license gets one license.expiring and one license.expired, across repeated runs; renewal re-arms both', async () => {
    // A public URL (documentation name): outbox rows are what this test counts; sending them fails offline, harmlessly.
    const hook = await user.trpc.webhooks.create.mutate({ url: 'https://receiver.example.com/hooks', allEvents: false, eventTypes: ['license.expiring', 'license.expired'] })
    const soon = await user.trpc.licenses.create.mutate({ label: 'soon', expiresIn: '3d', renewalPeriod: '30d' })
    const later = await user.trpc.licenses.create.mutate({ label: 'later', expiresIn: '30d' })
    const perpetual = await user.trpc.licenses.create.mutate({ label: 'perpetual' })
    const lapsed = await user.trpc.licenses.create.mutate({ label: 'lapsed', expiresAt: new Date(Date.now() - DAY) })
    const ids = [soon, later, perpetual, lapsed].map(l => l.license.id)

    await Promise.all([w.scheduled(CRON), w.scheduled(CRON)]) // overlapping runs
    await w.scheduled(CRON)
    let a = await announcements(ids)
    expect([a.count(soon.license.id, 'license.expiring'), a.count(soon.license.id, 'license.expired')]).toEqual([1, 0])
    expect([a.count(lapsed.license.id, 'license.expiring'), a.count(lapsed.license.id, 'license.expired')]).toEqual([0, 1])
    for (const l of [later, perpetual]) expect(a.count(l.license.id, 'license.expiring') + a.count(l.license.id, 'license.expired')).toBe(0)

    // "soon" passes its expiry (moved into the past directly in D1, as time passing would): one expired, no second expiring.
    const { ctx } = w.context()
    const soonRow = await user.trpc.licenses.get.query({ id: soon.license.id })
    await setLicense(w, soon.license.id, { expiresAt: new Date(Date.now() - 1000), expiringNotifiedFor: new Date(Date.now() - 1000) })
    for (let i = 0; i < 3; i++) await w.scheduled(CRON)
    a = await announcements(ids)
    expect([a.count(soon.license.id, 'license.expiring'), a.count(soon.license.id, 'license.expired')]).toEqual([1, 1])
    expect(a.count(lapsed.license.id, 'license.expired')).toBe(1)
    expect(soonRow.expiresAt).not.toBeNull()

    // Renewal (by 5 days: inside the notice window) re-arms both.
    await user.trpc.licenses.renew.mutate({ id: soon.license.id, expiresIn: '5d' })
    await w.scheduled(CRON)
    await w.scheduled(CRON)
    a = await announcements(ids)
    expect([a.count(soon.license.id, 'license.expiring'), a.count(soon.license.id, 'license.expired')]).toEqual([2, 1])
    await setLicense(w, soon.license.id, { expiresAt: new Date(Date.now() - 500) })
    await w.scheduled(CRON)
    await w.scheduled(CRON)
    a = await announcements(ids)
    expect([a.count(soon.license.id, 'license.expiring'), a.count(soon.license.id, 'license.expired')]).toEqual([2, 2])

    // Every announcement went into the outbox for the subscribed endpoint, once.
    const outbox = await ctx.db.select({ eventType: webhookDeliveries.eventType, payload: webhookDeliveries.payload }).from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, hook.webhook.id))
    expect(outbox.map(o => o.eventType).sort()).toEqual(['license.expired', 'license.expired', 'license.expired', 'license.expiring', 'license.expiring'])
    expect(JSON.parse(outbox.find(o => o.eventType === 'license.expiring')!.payload)).toMatchObject({ type: 'license.expiring', data: { license: { id: soon.license.id, label: 'soon' } } })
  })
})

describe('webhook URLs in production (SSRF)', () => {
  it('refuses loopback, private, link-local, metadata and internal hosts, and plain http', async () => {
    const refused = [
      'http://example.com/hook', 'https://localhost/hook', 'https://127.0.0.1/hook', 'https://127.1/hook', 'https://2130706433/hook',
      'https://0x7f000001/hook', 'https://10.0.0.5/hook', 'https://172.16.3.4/hook', 'https://192.168.1.10/hook', 'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/hook', 'https://0.0.0.0/hook', 'https://[::1]/hook', 'https://[::ffff:127.0.0.1]/hook', 'https://[fd00:ec2::254]/hook',
      'https://[fe80::1]/hook', 'https://metadata.google.internal/computeMetadata/v1', 'https://printer.local/hook', 'https://app.localhost/hook', 'https://intranet/hook',
    ]
    for (const url of refused) {
      const e = await errorOf(user.trpc.webhooks.create.mutate({ url }))
      expect(e.code, url).toBe('BAD_REQUEST')
      expect(e.fieldErrors?.url, url).toBeDefined()
    }
    const ok = await user.trpc.webhooks.create.mutate({ url: 'https://hooks.example.com/lm' })
    expect((await errorOf(user.trpc.webhooks.update.mutate({ id: ok.webhook.id, url: 'https://10.1.2.3/' }))).code).toBe('BAD_REQUEST')
    expect((await user.trpc.webhooks.get.query({ id: ok.webhook.id })).url).toBe('https://hooks.example.com/lm')
  })
})
