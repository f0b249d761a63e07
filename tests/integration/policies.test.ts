import { and, eq } from 'drizzle-orm'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activations, devices, events, licenses } from '../../db/schema'
import { createWebhookSchema } from '../../shared/schemas/webhooks'
import { createWebhook } from '../../server/services/webhooks'
import { Caller, errorOf } from '../support/client'
import { api, seedLicense, seedOwner, setLicense } from '../support/licenses'
import { verifyWith, WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * License policies through the public routes of the real worker on a real local D1 (docs/policies.md).
 * Time is controlled with the test-only clock (LM_TEST_CLOCK=1 + X-LM-Test-Now), never by sleeping.
 */
let w: TestWorker
let owner: Awaited<ReturnType<typeof seedOwner>>
const receiver = new WebhookReceiver()
let hookSecret = ''

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
/** The tests' "now": a fixed point, so answers can be compared exactly. */
const T = Date.parse('2026-07-01T10:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()

beforeAll(async () => {
  await receiver.start()
  w = await startWorker({ vars: { LM_TEST_CLOCK: '1', ANOMALY_DISTINCT_IPS: '3', WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  owner = await seedOwner(w)
  const { ctx } = w.context()
  const hook = await createWebhook(ctx, owner.id, createWebhookSchema.parse({ url: `${receiver.url}/policies`, allEvents: false, eventTypes: ['license.grace_started', 'license.device_limit_reached', 'license.anomaly', 'license.expired'] }))
  hookSecret = hook.secret
})
afterAll(async () => {
  await w?.close()
  await receiver.close()
})

/** A public call at time `at` (the test clock), from `ip`. */
const call = (route: string, body: Record<string, unknown>, at: number, ip = '198.18.0.1') =>
  api(w, route, body, { ip, headers: { 'x-lm-test-now': iso(at) } })

const license = (input: Parameters<typeof seedLicense>[2] = {}) => seedLicense(w, owner.id, input)

async function row(id: string) {
  const { ctx } = w.context()
  const [l] = await ctx.db.select().from(licenses).where(eq(licenses.id, id))
  return l!
}

async function eventsOf(id: string, type: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(events).where(and(eq(events.subjectId, id), eq(events.type, type)))
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

describe('grace period', () => {
  it('GRACE_PERIOD (valid, active, graceEndsAt) from expiresAt until the grace end, then EXPIRED; no activation during grace', async () => {
    const { key, license: l } = await license({ expiresAt: new Date(T + DAY), grace: '7d', maxDevices: 2 })
    expect(l.graceEndsAt).toEqual(new Date(T + 8 * DAY))
    expect(l.grace).toBe('7d')
    expect((await call('activate', { key, fingerprint: 'fp-1' }, T)).json.code).toBe('ACTIVATED')
    const before = await call('verify', { key }, T)
    expect(before.json).toMatchObject({ valid: true, status: 'active', code: 'VALID', license: { expiresAt: iso(T + DAY), graceEndsAt: iso(T + 8 * DAY) } })
    const during = await call('verify', { key, fingerprint: 'fp-1' }, T + DAY)
    expect(during.json).toEqual({ valid: true, status: 'active', code: 'GRACE_PERIOD', license: { expiresAt: iso(T + DAY), graceEndsAt: iso(T + 8 * DAY), metadata: {}, devices: { used: 1, max: 2 } } })
    // DEVICE_NOT_ACTIVATED comes first; activation is refused during grace.
    expect((await call('verify', { key, fingerprint: 'fp-2' }, T + 2 * DAY)).json.code).toBe('DEVICE_NOT_ACTIVATED')
    expect((await call('activate', { key, fingerprint: 'fp-2' }, T + 2 * DAY)).json).toEqual({ activated: false, code: 'EXPIRED', devices: { used: 1, max: 2 } })
    expect((await call('verify', { key }, T + 8 * DAY - 1)).json.code).toBe('GRACE_PERIOD')
    expect((await call('verify', { key }, T + 8 * DAY)).json).toMatchObject({ valid: false, status: 'inactive', code: 'EXPIRED' })
    // Suspended beats grace.
    await setLicense(w, l.id, { status: 'suspended' })
    expect((await call('verify', { key }, T + 2 * DAY)).json.code).toBe('SUSPENDED')
  })

  it('a signed answer in grace never outlives the grace end', async () => {
    const { key } = await license({ expiresAt: new Date(T), grace: '1d' })
    const r = await call('verify', { key, signed: true, nonce: 'n-1' }, T + HOUR)
    expect(r.json.code).toBe('GRACE_PERIOD')
    const claims = decodeJwt(r.json.token)
    expect(claims.exp).toBe((T + DAY) / 1000)
    expect(claims).toMatchObject({ code: 'GRACE_PERIOD', valid: true, license: { graceEndsAt: iso(T + DAY) } })
  })

  it('Part 1 licenses keep their exact answer (no graceEndsAt member)', async () => {
    const { key } = await license({ expiresAt: new Date(T + DAY) })
    const r = await call('verify', { key }, T)
    expect(Object.keys(r.json.license).sort()).toEqual(['devices', 'expiresAt', 'metadata'])
  })
})

describe('expiry from first activation (trial)', () => {
  it('expiresAt stays null until the first ACTIVATED answer, then becomes that time + the duration', async () => {
    const { key, license: l } = await license({ expiresAfterActivation: '14d', grace: '3d' })
    expect(l.expiresAt).toBeNull()
    expect(l.trialPending).toBe(true)
    expect((await call('verify', { key }, T)).json.license.expiresAt).toBeNull()
    const a = await call('activate', { key, fingerprint: 'fp-1', signed: true }, T + HOUR)
    expect(a.json.code).toBe('ACTIVATED')
    expect(decodeJwt(a.json.token).license).toMatchObject({ expiresAt: iso(T + HOUR + 14 * DAY), graceEndsAt: iso(T + HOUR + 17 * DAY) })
    const after = await row(l.id)
    expect(after.expiresAt).toEqual(new Date(T + HOUR + 14 * DAY))
    expect(after.graceEndsAt).toEqual(new Date(T + HOUR + 17 * DAY))
    // A second device (or the first again, later) does not move it.
    expect((await call('activate', { key, fingerprint: 'fp-2' }, T + 2 * DAY)).json.code).toBe('ACTIVATED')
    expect((await row(l.id)).expiresAt).toEqual(new Date(T + HOUR + 14 * DAY))
    expect((await call('verify', { key }, T + HOUR + 14 * DAY)).json.code).toBe('GRACE_PERIOD')
  })

  it('two concurrent first activations set it once', async () => {
    for (let round = 0; round < 3; round++) {
      const { key, license: l } = await license({ expiresAfterActivation: '30d' })
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => call('activate', { key, fingerprint: `c-${i}` }, T + i * 1000)))
      expect(answers.every(a => a.json.code === 'ACTIVATED')).toBe(true)
      const { expiresAt } = await row(l.id)
      const starts = Array.from({ length: 8 }, (_, i) => T + i * 1000 + 30 * DAY)
      expect(starts).toContain(expiresAt!.getTime())
      // Every device sees that one expiry.
      const seen = new Set((await Promise.all(answers.map((_, i) => call('verify', { key, fingerprint: `c-${i}` }, T + 9000)))).map(v => v.json.license.expiresAt))
      expect([...seen]).toEqual([expiresAt!.toISOString()])
    }
  })
})

describe('activation churn limit', () => {
  it('more new activations than count within the trailing period: ACTIVATION_LIMIT_REACHED, even with free seats', async () => {
    const { key, license: l } = await license({ maxActivationsPerPeriod: { count: 2, period: '30d' }, maxDevices: 5 })
    for (const [fp, at] of [['a', T], ['b', T + DAY]] as const) {
      expect((await call('activate', { key, fingerprint: fp }, at)).json.code).toBe('ACTIVATED')
      expect((await call('deactivate', { key, fingerprint: fp }, at + 1)).json.code).toBe('DEACTIVATED')
    }
    const refused = await call('activate', { key, fingerprint: 'c' }, T + 2 * DAY)
    expect(refused.json).toEqual({ activated: false, code: 'ACTIVATION_LIMIT_REACHED', devices: { used: 0, max: 5 } })
    // Nothing changed: no device, no activation recorded.
    const { ctx } = w.context()
    expect(await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))).toHaveLength(0)
    expect(await ctx.db.select().from(activations).where(eq(activations.licenseId, l.id))).toHaveLength(2)
    // A device that still holds its seat is ALREADY_ACTIVATED (first match), not refused.
    expect((await call('activate', { key, fingerprint: 'c' }, T + 30 * DAY + 1)).json.code).toBe('ACTIVATED') // 'a' left the window
    expect((await call('activate', { key, fingerprint: 'c' }, T + 30 * DAY + 2)).json.code).toBe('ALREADY_ACTIVATED')
    expect((await call('activate', { key, fingerprint: 'd' }, T + 30 * DAY + 3)).json.code).toBe('ACTIVATION_LIMIT_REACHED')
  })

  it('exact under concurrency: 20 concurrent new activations against a limit of 5 → exactly 5 ACTIVATED', async () => {
    const { key, license: l } = await license({ maxActivationsPerPeriod: { count: 5, period: '1mo' } })
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call('activate', { key, fingerprint: `m-${i}` }, T, `198.18.1.${i}`)))
    const codes = answers.map(a => a.json.code)
    expect(codes.filter(c => c === 'ACTIVATED')).toHaveLength(5)
    expect(codes.filter(c => c === 'ACTIVATION_LIMIT_REACHED')).toHaveLength(15)
    const { ctx } = w.context()
    expect(await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))).toHaveLength(5)
    await until('5 device.activated events', () => eventsOf(l.id, 'device.activated'), e => e.length === 5)
  })
})

describe('floating seats (leases) and heartbeat', () => {
  it('a lease not renewed in time holds no seat; heartbeat and verify renew it; the old device must activate again', async () => {
    const { key, license: l } = await license({ leaseDuration: '15min', maxDevices: 2 })
    expect((await call('activate', { key, fingerprint: 'a' }, T)).json.code).toBe('ACTIVATED')
    expect((await call('activate', { key, fingerprint: 'b' }, T)).json.code).toBe('ACTIVATED')
    expect((await call('activate', { key, fingerprint: 'c' }, T + MIN)).json.code).toBe('DEVICE_LIMIT_REACHED')
    const hb = await call('heartbeat', { key, fingerprint: 'a' }, T + 10 * MIN)
    expect(hb.json).toEqual({ alive: true, code: 'ALIVE', leaseExpiresAt: iso(T + 25 * MIN), devices: { used: 2, max: 2 } })
    // b lapsed at T+15min: no seat, not activated, no heartbeat.
    expect((await call('verify', { key, fingerprint: 'b' }, T + 15 * MIN)).json).toMatchObject({ valid: false, code: 'DEVICE_NOT_ACTIVATED', license: { devices: { used: 1, max: 2 } } })
    expect((await call('heartbeat', { key, fingerprint: 'b' }, T + 16 * MIN)).json).toEqual({ alive: false, code: 'DEVICE_NOT_ACTIVATED', leaseExpiresAt: null, devices: { used: 1, max: 2 } })
    // A verify with the fingerprint renews the lease too (after the response).
    expect((await call('verify', { key, fingerprint: 'a' }, T + 20 * MIN)).json.code).toBe('VALID')
    const { ctx } = w.context()
    const leaseOf = async (fp: string) => (await ctx.db.select().from(devices).where(and(eq(devices.licenseId, l.id), eq(devices.fingerprint, fp))))[0]?.leaseExpiresAt?.getTime()
    await until('the renewed lease', () => leaseOf('a'), v => v === T + 35 * MIN)
    // A new device takes b's seat; then b must activate again and finds none.
    expect((await call('activate', { key, fingerprint: 'c' }, T + 21 * MIN)).json).toEqual({ activated: true, code: 'ACTIVATED', devices: { used: 2, max: 2 } })
    expect((await call('activate', { key, fingerprint: 'b' }, T + 22 * MIN)).json.code).toBe('DEVICE_LIMIT_REACHED')
    // Once a's lease lapses, b takes the seat again (its old row, now a fresh lease).
    const again = await call('activate', { key, fingerprint: 'b' }, T + 36 * MIN)
    expect(again.json.code).toBe('ACTIVATED')
    expect(await leaseOf('b')).toBe(T + 51 * MIN)
    expect((await call('verify', { key, fingerprint: 'a' }, T + 36 * MIN)).json.code).toBe('DEVICE_NOT_ACTIVATED')
  })

  it('exact under concurrency: 20 concurrent activations on a 3-seat floating license with 2 stale leases → exactly 3 holders', async () => {
    const { key, license: l } = await license({ leaseDuration: '5min', maxDevices: 3 })
    for (const fp of ['stale-1', 'stale-2']) expect((await call('activate', { key, fingerprint: fp }, T)).json.code).toBe('ACTIVATED')
    const now = T + 6 * MIN
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call('activate', { key, fingerprint: `f-${i}` }, now, `198.18.2.${i}`)))
    const codes = answers.map(a => a.json.code)
    expect(codes.filter(c => c === 'ACTIVATED')).toHaveLength(3)
    expect(codes.filter(c => c === 'DEVICE_LIMIT_REACHED')).toHaveLength(17)
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(devices).where(eq(devices.licenseId, l.id))
    expect(rows.filter(d => d.leaseExpiresAt!.getTime() > now)).toHaveLength(3)
    expect((await call('verify', { key }, now)).json.license.devices).toEqual({ used: 3, max: 3 })
  })

  it('heartbeat codes: NOT_FOUND, PRODUCT_MISMATCH (no devices), SUSPENDED, EXPIRED, ALIVE without a lease; bad input is 400 naming the field', async () => {
    const { key, license: l } = await license({ expiresAt: new Date(T + DAY), maxDevices: 1 })
    expect((await call('heartbeat', { key: 'LM-00000-00000-00000-00000-00000-00000', fingerprint: 'x' }, T)).json).toEqual({ alive: false, code: 'NOT_FOUND' })
    expect((await call('activate', { key, fingerprint: 'x' }, T)).json.code).toBe('ACTIVATED')
    expect((await call('heartbeat', { key, fingerprint: 'x' }, T)).json).toEqual({ alive: true, code: 'ALIVE', leaseExpiresAt: null, devices: { used: 1, max: 1 } })
    expect((await call('heartbeat', { key, fingerprint: 'x', product: 'nope' }, T)).json).toEqual({ alive: false, code: 'PRODUCT_MISMATCH' })
    expect((await call('heartbeat', { key, fingerprint: 'x' }, T + DAY)).json).toMatchObject({ alive: false, code: 'EXPIRED' })
    await setLicense(w, l.id, { status: 'suspended' })
    expect((await call('heartbeat', { key, fingerprint: 'x' }, T)).json).toMatchObject({ alive: false, code: 'SUSPENDED' })
    for (const [body, field] of [[{ key }, 'fingerprint'], [{ key, fingerprint: '' }, 'fingerprint'], [{ fingerprint: 'x' }, 'key'], [{ key, fingerprint: 5 }, 'fingerprint']] as const) {
      const r = await call('heartbeat', body, T)
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('BAD_REQUEST')
      expect(r.json.error.message).toContain(`"${field}"`)
    }
    const bad = await api(w, 'verify', { key }, { headers: { 'x-lm-test-now': 'yesterday' } })
    expect(bad.status).toBe(400)
  })
})

describe('limit events', () => {
  it('license.device_limit_reached: at most once an hour per license, in the log and as a signed webhook', async () => {
    const { key, license: l } = await license({ maxDevices: 1 })
    await call('activate', { key, fingerprint: 'one' }, T)
    for (const at of [T + 1, T + 2, T + 30 * MIN]) expect((await call('activate', { key, fingerprint: `other-${at}` }, at)).json.code).toBe('DEVICE_LIMIT_REACHED')
    const first = await until('one device_limit_reached event', () => eventsOf(l.id, 'license.device_limit_reached'), e => e.length >= 1)
    expect(first).toHaveLength(1)
    expect(first[0]!.detail).toEqual({ maxDevices: 1, devicesUsed: 1 })
    expect((await row(l.id)).deviceLimitReachedAt).toEqual(new Date(T + 1))
    expect((await call('activate', { key, fingerprint: 'later' }, T + HOUR + 1)).json.code).toBe('DEVICE_LIMIT_REACHED')
    await until('a second one an hour later', () => eventsOf(l.id, 'license.device_limit_reached'), e => e.length === 2)
    const got = await receiver.waitFor(r => r.filter(x => x.json?.type === 'license.device_limit_reached' && x.json.data.license.id === l.id).length === 2)
    const hook = got.find(x => x.json?.type === 'license.device_limit_reached' && x.json.data.license.id === l.id)!
    expect(() => verifyWith(hookSecret, hook)).not.toThrow()
    expect(hook.json.data).toMatchObject({ license: { id: l.id, maxDevices: 1, devicesUsed: 1 }, limit: { maxDevices: 1, devicesUsed: 1 } })
    expect(hook.body).not.toContain(key)
  })

  it('license.anomaly: one key verified from more than ANOMALY_DISTINCT_IPS (3) distinct IPs in 24 h, at most once a day', async () => {
    const { key, license: l } = await license()
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.1']) await call('verify', { key }, T, ip)
    // Three distinct IPs are not more than three: had they been flagged, the one event of the day would say 3.
    for (const ip of ['203.0.113.4', '2001:db8:1:2::1', '2001:db8:1:2::2']) await call('verify', { key }, T + HOUR, ip)
    const ev = await until('license.anomaly', () => eventsOf(l.id, 'license.anomaly'), e => e.length >= 1)
    expect(ev).toHaveLength(1)
    expect(ev[0]!.detail).toMatchObject({ distinctIps: 4, threshold: 3, windowHours: 24 })
    expect(ev[0]!.actorType).toBe('system')
    expect(await row(l.id)).toMatchObject({ anomalyIps: 4 })
    // More IPs the same day: no second event.
    for (const ip of ['198.51.100.1', '198.51.100.2']) await call('verify', { key }, T + 2 * HOUR, ip)
    await receiver.waitFor(r => r.some(x => x.json?.type === 'license.anomaly' && x.json.data.license.id === l.id))
    const hooks = receiver.received.filter(x => x.json?.type === 'license.anomaly' && x.json.data.license.id === l.id)
    expect(hooks).toHaveLength(1)
    expect(hooks[0]!.json.data.anomaly).toMatchObject({ distinctIps: 4, threshold: 3 })
    expect(await eventsOf(l.id, 'license.anomaly')).toHaveLength(1)
  })

  it('license.grace_started once when a license with grace passes its expiry, license.expired at the grace end (cron)', async () => {
    const now = Date.now()
    const inGrace = await license({ expiresAt: new Date(now - HOUR), grace: '7d' })
    const pastGrace = await license({ expiresAt: new Date(now - 8 * DAY), grace: '7d' })
    await w.scheduled('* * * * *')
    await w.scheduled('* * * * *')
    expect(await eventsOf(inGrace.license.id, 'license.grace_started')).toHaveLength(1)
    expect(await eventsOf(inGrace.license.id, 'license.expired')).toHaveLength(0)
    expect(await eventsOf(pastGrace.license.id, 'license.expired')).toHaveLength(1)
    expect(await eventsOf(pastGrace.license.id, 'license.grace_started')).toHaveLength(0)
    const got = await receiver.waitFor(r => r.some(x => x.json?.type === 'license.grace_started' && x.json.data.license.id === inGrace.license.id))
    const hook = got.find(x => x.json?.type === 'license.grace_started' && x.json.data.license.id === inGrace.license.id)!
    expect(hook.json.data.license.graceEndsAt).toBe(iso(now - HOUR + 7 * DAY))
  })
})

describe('the web app door (tRPC): policy fields, product defaults, bad input', () => {
  let seller: Caller
  beforeAll(async () => {
    seller = new Caller(w.url)
    await seller.login(owner.email, owner.password)
  })

  it('a product\'s policy defaults fill a new license; the license can change and remove them', async () => {
    const product = await seller.trpc.products.create.mutate({ name: 'Lab', slug: 'lab-seats', defaults: { expiresIn: '1y', grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '1mo' } } })
    const { license: l } = await seller.trpc.licenses.create.mutate({ product: product.id })
    expect(l).toMatchObject({ grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '1mo' }, expiresAfterActivation: null })
    expect(l.graceEndsAt!.getTime() - l.expiresAt!.getTime()).toBe(7 * DAY)
    // An explicit trial clock on create means the product's fixed expiry does not apply.
    const { license: trial } = await seller.trpc.licenses.create.mutate({ product: product.id, expiresAfterActivation: '14d' })
    expect(trial).toMatchObject({ expiresAt: null, expiresAfterActivation: '14d', trialPending: true, grace: '7d' })
    const changed = await seller.trpc.licenses.update.mutate({ id: l.id, leaseDuration: null, grace: '3d', maxActivationsPerPeriod: null })
    expect(changed).toMatchObject({ leaseDuration: null, grace: '3d', maxActivationsPerPeriod: null })
    expect(changed.graceEndsAt!.getTime() - changed.expiresAt!.getTime()).toBe(3 * DAY)
    const renewed = await seller.trpc.licenses.renew.mutate({ id: l.id, expiresIn: '30d' })
    expect(renewed.graceEndsAt!.getTime() - renewed.expiresAt!.getTime()).toBe(3 * DAY)
    const { ctx } = w.context()
    const [ev] = await ctx.db.select().from(events).where(and(eq(events.subjectId, l.id), eq(events.type, 'license.updated')))
    expect((ev!.detail as { changed: string[] }).changed.sort()).toEqual(['grace', 'leaseDuration', 'maxActivationsPerPeriod'])
  })

  it('zero, negative, huge, malformed and too-short values, and grace on a perpetual license: BAD_REQUEST naming the field, nothing changed', async () => {
    const { license: l } = await seller.trpc.licenses.create.mutate({ expiresIn: '30d' })
    const bad: [string, Record<string, unknown>, string][] = [
      ['zero grace', { grace: '0d', expiresIn: '1y' }, 'grace'],
      ['negative grace', { grace: '-7d', expiresIn: '1y' }, 'grace'],
      ['huge grace', { grace: '9999y', expiresIn: '1y' }, 'grace'],
      ['malformed grace', { grace: 'a week', expiresIn: '1y' }, 'grace'],
      ['grace on perpetual', { grace: '7d' }, 'grace'],
      ['lease under a minute', { leaseDuration: '59s' }, 'leaseDuration'],
      ['lease zero', { leaseDuration: '0min' }, 'leaseDuration'],
      ['lease huge', { leaseDuration: '9999999w' }, 'leaseDuration'],
      ['lease as a number', { leaseDuration: 900 }, 'leaseDuration'],
      ['churn count zero', { maxActivationsPerPeriod: { count: 0, period: '30d' } }, 'maxActivationsPerPeriod'],
      ['churn count negative', { maxActivationsPerPeriod: { count: -3, period: '30d' } }, 'maxActivationsPerPeriod'],
      ['churn count huge', { maxActivationsPerPeriod: { count: 1e12, period: '30d' } }, 'maxActivationsPerPeriod'],
      ['churn without period', { maxActivationsPerPeriod: { count: 3 } }, 'maxActivationsPerPeriod'],
      ['churn period huge', { maxActivationsPerPeriod: { count: 3, period: '5y' } }, 'maxActivationsPerPeriod'],
      ['trial and expiry', { expiresAfterActivation: '14d', expiresIn: '30d' }, 'expiresAfterActivation'],
      ['trial zero', { expiresAfterActivation: '0h' }, 'expiresAfterActivation'],
    ]
    const { items: before } = await seller.trpc.licenses.list.query({})
    for (const [what, input, field] of bad) {
      const e = await errorOf(seller.raw.mutation('licenses.create', input))
      expect(e.code, what).toBe('BAD_REQUEST')
      expect(Object.keys(e.fieldErrors ?? {}).join(), what).toContain(field)
    }
    expect((await seller.trpc.licenses.list.query({})).items).toHaveLength(before.length)
    // Updates alike: removing the expiry of a license with grace, or adding grace to a perpetual one.
    await seller.trpc.licenses.update.mutate({ id: l.id, grace: '7d' })
    expect((await errorOf(seller.trpc.licenses.update.mutate({ id: l.id, expiresAt: null }))).fieldErrors).toHaveProperty('expiresAt')
    const { license: perpetual } = await seller.trpc.licenses.create.mutate({})
    expect((await errorOf(seller.trpc.licenses.update.mutate({ id: perpetual.id, grace: '1d' }))).fieldErrors).toHaveProperty('grace')
    expect((await errorOf(seller.raw.mutation('licenses.update', { id: l.id, leaseDuration: '10s' }))).fieldErrors).toHaveProperty('leaseDuration')
    expect(await row(l.id)).toMatchObject({ grace: '7d', leaseDuration: null, expiresAt: l.expiresAt })
    expect((await row(perpetual.id)).grace).toBeNull()
  })
})
