import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { addDuration } from '../../server/lib/duration'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { api } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let admin: Caller
let user: Caller
let other: Caller
let userId = ''

beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const emails = [uniqueEmail('lic-user'), uniqueEmail('lic-other')]
  for (const email of emails) await admin.trpc.users.create.mutate({ email, password: 'license-password-1' })
  user = new Caller(w.url)
  other = new Caller(w.url)
  userId = (await user.login(emails[0]!, 'license-password-1')).id
  await other.login(emails[1]!, 'license-password-1')
})
afterAll(async () => { await w?.close() })

const DAY = 86_400_000
const near = (a: Date | null | undefined, b: Date, ms = 60_000) => a != null && Math.abs(a.getTime() - b.getTime()) < ms

describe('license lifecycle (service behind the web app)', () => {
  it('creates with each kind of expiry; the key is returned once and never listed', async () => {
    const perpetual = await user.trpc.licenses.create.mutate({ label: 'Perpetual' })
    expect(perpetual.license).toMatchObject({ expiresAt: null, maxDevices: null, displayStatus: 'active', ownerId: userId })
    const trial = await user.trpc.licenses.create.mutate({ label: 'Trial', expiresIn: '14d', maxDevices: 1, renewalPeriod: '30d', metadata: { tier: 'trial' } })
    expect(near(trial.license.expiresAt, new Date(Date.now() + 14 * DAY))).toBe(true)
    const dated = await user.trpc.licenses.create.mutate({ label: 'Dated', expiresAt: new Date('2030-01-31T00:00:00Z') })
    expect(dated.license.expiresAt?.toISOString()).toBe('2030-01-31T00:00:00.000Z')
    const list = await user.trpc.licenses.list.query({})
    expect(list.items.map(l => l.label)).toEqual(['Dated', 'Trial', 'Perpetual'])
    const listed = JSON.stringify(list)
    for (const k of [perpetual.key, trial.key, dated.key]) expect(listed).not.toContain(k.slice(3))
    expect(list.items[1]!.maskedKey).toMatch(new RegExp(`^LM-(•{5}-){5}••${trial.key.slice(-3)}$`))
    expect((await user.trpc.licenses.reveal.mutate({ id: trial.license.id })).key).toBe(trial.key)
  })

  it('refuses metadata over 4 KiB or not an object, and both expiry forms at once', async () => {
    expect((await errorOf(user.trpc.licenses.create.mutate({ metadata: { big: 'x'.repeat(4100) } }))).fieldErrors).toHaveProperty('metadata')
    expect((await errorOf(user.trpc.licenses.create.mutate({ metadata: [1, 2] as never }))).code).toBe('BAD_REQUEST')
    expect((await errorOf(user.trpc.licenses.create.mutate({ expiresIn: '30d', expiresAt: new Date() }))).code).toBe('BAD_REQUEST')
  })

  it('renews by the renewal period from the later of now and the current expiry, or to a date', async () => {
    const future = await user.trpc.licenses.create.mutate({ expiresIn: '10d', renewalPeriod: '30d' })
    const r1 = await user.trpc.licenses.renew.mutate({ id: future.license.id })
    expect(r1.expiresAt?.toISOString()).toBe(addDuration(future.license.expiresAt!, { n: 30, unit: 'd' }).toISOString())
    const lapsed = await user.trpc.licenses.create.mutate({ expiresAt: new Date(Date.now() - 5 * DAY), renewalPeriod: '1mo' })
    const r2 = await user.trpc.licenses.renew.mutate({ id: lapsed.license.id })
    expect(near(r2.expiresAt, addDuration(new Date(), { n: 1, unit: 'mo' }))).toBe(true)
    expect(r2.displayStatus).toBe('active')
    const r3 = await user.trpc.licenses.renew.mutate({ id: lapsed.license.id, expiresIn: '1y' })
    expect(r3.expiresAt?.toISOString()).toBe(addDuration(r2.expiresAt!, { n: 1, unit: 'y' }).toISOString())
    const r4 = await user.trpc.licenses.renew.mutate({ id: lapsed.license.id, expiresAt: new Date('2031-06-30T00:00:00Z') })
    expect(r4.expiresAt?.toISOString()).toBe('2031-06-30T00:00:00.000Z')
    const noPeriod = await user.trpc.licenses.create.mutate({ expiresIn: '1d' })
    expect((await errorOf(user.trpc.licenses.renew.mutate({ id: noPeriod.license.id }))).code).toBe('BAD_REQUEST')
    const perpetual = await user.trpc.licenses.create.mutate({ renewalPeriod: '1y' })
    expect((await errorOf(user.trpc.licenses.renew.mutate({ id: perpetual.license.id }))).code).toBe('BAD_REQUEST')
    expect((await user.trpc.licenses.renew.mutate({ id: perpetual.license.id, expiresAt: new Date('2029-01-01T00:00:00Z') })).expiresAt?.toISOString()).toBe('2029-01-01T00:00:00.000Z')
  })

  it('suspend, reinstate, edit, free a device and delete — each with its audit event, seen by the REST API at once', async () => {
    const { key, license } = await user.trpc.licenses.create.mutate({ label: 'Lifecycle', maxDevices: 1 })
    await user.trpc.licenses.suspend.mutate({ id: license.id })
    expect((await api(w, 'verify', { key })).json.code).toBe('SUSPENDED')
    expect((await user.trpc.licenses.list.query({ status: 'suspended' })).items.map(l => l.id)).toContain(license.id)
    await user.trpc.licenses.reinstate.mutate({ id: license.id })
    expect((await api(w, 'activate', { key, fingerprint: 'box-1' })).json.code).toBe('ACTIVATED')
    const edited = await user.trpc.licenses.update.mutate({ id: license.id, label: 'Renamed', maxDevices: 2, metadata: { tier: 'pro' } })
    expect(edited).toMatchObject({ label: 'Renamed', maxDevices: 2, devicesUsed: 1, metadata: { tier: 'pro' } })
    expect((await api(w, 'verify', { key })).json.license).toMatchObject({ metadata: { tier: 'pro' }, devices: { used: 1, max: 2 } })
    const detail = await user.trpc.licenses.get.query({ id: license.id })
    expect(detail.devices).toMatchObject([{ fingerprint: 'box-1' }])
    await user.trpc.licenses.freeDevice.mutate({ id: license.id, deviceId: detail.devices[0]!.id })
    expect((await api(w, 'verify', { key, fingerprint: 'box-1' })).json.code).toBe('DEVICE_NOT_ACTIVATED')
    expect((await errorOf(user.trpc.licenses.freeDevice.mutate({ id: license.id, deviceId: detail.devices[0]!.id }))).code).toBe('NOT_FOUND')
    await user.trpc.licenses.delete.mutate({ id: license.id })
    expect((await api(w, 'verify', { key })).json.code).toBe('NOT_FOUND')
    expect((await errorOf(user.trpc.licenses.get.query({ id: license.id }))).code).toBe('NOT_FOUND')
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events).where(eq(events.subjectId, license.id))
    const types = rows.map(r => r.type)
    for (const t of ['license.created', 'license.suspended', 'license.reinstated', 'license.updated', 'device.activated', 'device.freed', 'license.deleted']) expect(types).toContain(t)
    for (const r of rows.filter(r => r.actorType === 'user')) expect(r).toMatchObject({ actorId: userId, ownerId: userId, ip: user.ip })
  })

  it('filters by status and search; admins see everyone with owners and may filter by owner', async () => {
    const mine = await user.trpc.licenses.create.mutate({ label: 'Findable Zebra', expiresAt: new Date(Date.now() - DAY) })
    await other.trpc.licenses.create.mutate({ label: 'Other Zebra' })
    expect((await user.trpc.licenses.list.query({ search: 'zebra' })).items.map(l => l.label)).toEqual(['Findable Zebra'])
    expect((await user.trpc.licenses.list.query({ status: 'expired' })).items.map(l => l.id)).toContain(mine.license.id)
    expect((await user.trpc.licenses.list.query({ status: 'active' })).items.map(l => l.id)).not.toContain(mine.license.id)
    expect((await user.trpc.licenses.list.query({ search: mine.key.slice(-3) })).items.map(l => l.id)).toEqual([mine.license.id])
    const all = await admin.trpc.licenses.list.query({ search: 'zebra' })
    expect(all.items.map(l => l.ownerEmail).sort()).toHaveLength(2)
    const byOwner = await admin.trpc.licenses.list.query({ ownerId: userId, search: 'zebra' })
    expect(byOwner.items.map(l => l.label)).toEqual(['Findable Zebra'])
  })

  it('pages with a keyset cursor without gaps or repeats', async () => {
    const fresh = new Caller(w.url)
    const email = uniqueEmail('pager')
    await admin.trpc.users.create.mutate({ email, password: 'license-password-1' })
    await fresh.login(email, 'license-password-1')
    for (let i = 0; i < 7; i++) await fresh.trpc.licenses.create.mutate({ label: `page-${i}` })
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await fresh.trpc.licenses.list.query({ limit: 3, cursor })
      seen.push(...page.items.map(l => l.label))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `page-${6 - i}`))
    expect((await errorOf(fresh.trpc.licenses.list.query({ cursor: 'garbage' }))).code).toBe('BAD_REQUEST')
  })

  it('admins create licenses for any user; users only for themselves', async () => {
    const forUser = await admin.trpc.licenses.create.mutate({ ownerId: userId, label: 'Granted' })
    expect(forUser.license.ownerId).toBe(userId)
    expect((await user.trpc.licenses.list.query({ search: 'Granted' })).items).toHaveLength(1)
    expect((await errorOf(admin.trpc.licenses.create.mutate({ ownerId: 'usr_doesnotexist' }))).code).toBe('BAD_REQUEST')
  })
})
