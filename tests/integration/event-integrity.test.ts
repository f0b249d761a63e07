import { randomUUID } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, sessions, webhookDeliveries } from '../../db/schema'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { api } from '../support/licenses'
import { WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * No event without its change, no change without its event, no event lost in silence (docs/system-log.md):
 * the built worker with a real D1; write failures injected through the test-only D1 wrapper
 * (LM_FAULTS=1, server/lib/d1-faults.ts), which fails real D1 calls on demand.
 */
let w: TestWorker
let admin: Caller
let receiver: WebhookReceiver
beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  w = await startWorker({ vars: { LM_FAULTS: '1', WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
})
afterAll(async () => {
  await w?.close()
  await receiver?.close()
})

async function signedInUser() {
  const email = uniqueEmail('integrity')
  const { user } = await admin.trpc.users.create.mutate({ email, password: 'integrity-password-1' })
  const c = new Caller(w.url)
  await c.login(email, 'integrity-password-1')
  return { c, id: user.id, email }
}

async function eventsWhere(type: string, subjectId: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(events).where(and(eq(events.type, type), eq(events.subjectId, subjectId)))
}

async function messagesOf(endpointId: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId))
}

async function health() {
  return await (await fetch(`${w.url}/api/v1/health?deep=1`)).json() as { ok: boolean, database: string, eventsLost: number }
}

/** Poll until `read()` satisfies `done` (REST events are written after the response). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read()
    if (done(v)) return v
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('no event without its change', () => {
  it('revoking another user\'s session ends nothing and writes no session.ended event', async () => {
    const alice = await signedInUser()
    const bob = await signedInUser()
    const { ctx } = w.context()
    const [bobSession] = await ctx.db.select().from(sessions).where(eq(sessions.userId, bob.id))
    expect((await errorOf(alice.c.trpc.account.revokeSession.mutate({ id: bobSession!.id }))).code).toBe('NOT_FOUND')
    expect(await eventsWhere('session.ended', bobSession!.id)).toHaveLength(0)
    expect(await bob.c.trpc.auth.me.query()).toMatchObject({ email: bob.email })
    // Her own other session: one event, and it is gone.
    const second = new Caller(w.url)
    await second.login(alice.email, 'integrity-password-1')
    const other = (await alice.c.trpc.account.sessions.query()).find(s => !s.current)!
    await alice.c.trpc.account.revokeSession.mutate({ id: other.id })
    expect(await eventsWhere('session.ended', other.id)).toHaveLength(1)
    expect(await second.trpc.auth.me.query()).toBeNull()
    // Ending "all other sessions" when there are none writes nothing either.
    const lone = await signedInUser()
    expect(await lone.c.trpc.account.revokeOtherSessions.mutate()).toEqual({ ended: 0 })
    expect(await eventsWhere('session.ended', lone.id)).toHaveLength(0)
  })

  it('suspending a suspended license (and reinstating an active one, saving the same values) writes no event and fires no webhook', async () => {
    const u = await signedInUser()
    const path = `/integrity-${u.id}`
    const hook = (await u.c.trpc.webhooks.create.mutate({ url: `${receiver.url}${path}` })).webhook
    const { license } = await u.c.trpc.licenses.create.mutate({ label: 'twice', expiresIn: '30d' })
    const again = [await u.c.trpc.licenses.suspend.mutate({ id: license.id }), await u.c.trpc.licenses.suspend.mutate({ id: license.id })]
    expect(again.map(l => l.status)).toEqual(['suspended', 'suspended'])
    await u.c.trpc.licenses.reinstate.mutate({ id: license.id })
    await u.c.trpc.licenses.reinstate.mutate({ id: license.id })
    await u.c.trpc.licenses.update.mutate({ id: license.id, label: 'twice' }) // the same value: no change
    await u.c.trpc.licenses.update.mutate({ id: license.id, label: 'renamed' })
    await u.c.trpc.licenses.update.mutate({ id: license.id, label: 'renamed' })
    const current = await u.c.trpc.licenses.get.query({ id: license.id })
    await u.c.trpc.licenses.renew.mutate({ id: license.id, expiresAt: current.expiresAt! }) // to the date it already has
    for (const [type, n] of [['license.suspended', 1], ['license.reinstated', 1], ['license.updated', 1], ['license.renewed', 0]] as const) {
      expect(await eventsWhere(type, license.id), type).toHaveLength(n)
    }
    // Every webhook comes from an outbox message: one per real change.
    const messages = (await messagesOf(hook.id)).map(m => m.eventType).sort()
    expect(messages).toEqual(['license.created', 'license.reinstated', 'license.suspended', 'license.updated'])
    await receiver.waitFor(r => r.filter(x => x.path === path).length === 4, 15_000, 'the four webhooks')
    expect(receiver.at(path).map(r => r.json.type).sort()).toEqual(messages)
    await u.c.trpc.webhooks.delete.mutate({ id: hook.id })
  })

  it('saving a webhook endpoint with the values it has writes no webhook.updated; a real change writes one naming only what changed', async () => {
    const u = await signedInUser()
    const hook = (await u.c.trpc.webhooks.create.mutate({ url: `${receiver.url}/same`, description: 'billing', enabled: false })).webhook
    const same = await u.c.trpc.webhooks.update.mutate({ id: hook.id, url: hook.url, description: 'billing', enabled: false, allEvents: true })
    expect(same).toMatchObject({ url: hook.url, description: 'billing', enabled: false, updatedAt: hook.updatedAt })
    expect(await eventsWhere('webhook.updated', hook.id)).toHaveLength(0)
    await u.c.trpc.webhooks.update.mutate({ id: hook.id, description: 'billing v2', enabled: false })
    const updated = await eventsWhere('webhook.updated', hook.id)
    expect(updated.map(e => e.detail)).toEqual([{ changed: ['description'] }])
    await u.c.trpc.webhooks.delete.mutate({ id: hook.id })
  })

  it('a refused activation (seat limit) and a repeated deactivation write no device event', async () => {
    const u = await signedInUser()
    const { key, license } = await u.c.trpc.licenses.create.mutate({ label: 'one-seat', maxDevices: 1 })
    expect((await api(w, 'activate', { key, fingerprint: 'seat-1' })).json.code).toBe('ACTIVATED')
    expect((await api(w, 'activate', { key, fingerprint: 'seat-2' })).json.code).toBe('DEVICE_LIMIT_REACHED')
    const activated = await eventsWhere('device.activated', license.id)
    expect(activated.map(e => (e.detail as { fingerprint: string }).fingerprint)).toEqual(['seat-1'])
    // Two deactivations at once: one frees the seat, one event.
    const both = await Promise.all([api(w, 'deactivate', { key, fingerprint: 'seat-1' }), api(w, 'deactivate', { key, fingerprint: 'seat-1' })])
    expect(both.map(r => r.json.code).sort()).toEqual(['DEACTIVATED', 'DEVICE_NOT_ACTIVATED'])
    expect(await eventsWhere('device.deactivated', license.id)).toHaveLength(1)
  })
})

describe('no event lost in silence', () => {
  it('a failed event write is retried and lands once', async () => {
    const u = await signedInUser()
    const { key, license } = await u.c.trpc.licenses.create.mutate({ label: 'retry' })
    // The first two writes of this event fail (the batch, then its retry); the third try succeeds.
    const agent = `lm-fault:2:${randomUUID()}`
    const res = await api(w, 'verify', { key }, { headers: { 'user-agent': agent } })
    expect(res.json.code).toBe('VALID')
    const rows = await until(async () => (await eventsWhere('validation.verify', license.id)).filter(e => e.userAgent === agent), r => r.length > 0, 'the retried event')
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ outcome: 'VALID', ownerId: u.id })
    expect((await health()).eventsLost).toBe(0)
  })

  it('an event that cannot be written after every retry is counted: health ?deep=1 and the admin Overview', async () => {
    const u = await signedInUser()
    const { key, license } = await u.c.trpc.licenses.create.mutate({ label: 'lost' })
    const agent = `lm-fault:always:${randomUUID()}`
    expect((await api(w, 'verify', { key }, { headers: { 'user-agent': agent } })).json.code).toBe('VALID')
    expect(await until(health, h => h.eventsLost > 0, 'the loss counter')).toEqual({ ok: true, database: 'ok', eventsLost: 1 })
    expect((await eventsWhere('validation.verify', license.id)).filter(e => e.userAgent === agent)).toHaveLength(0)
    expect(await admin.trpc.log.lostEvents.query()).toMatchObject({ eventsLost: 1 })
    // Other calls are recorded as usual.
    await api(w, 'verify', { key }, { headers: { 'user-agent': 'after-the-loss' } })
    await until(async () => (await eventsWhere('validation.verify', license.id)).filter(e => e.userAgent === 'after-the-loss'), r => r.length === 1, 'the next event')
    expect((await health()).eventsLost).toBe(1)
  })
})
