import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { events, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import type { WEBHOOK_EVENT_TYPES } from '../../shared/schemas/webhooks'
import { NO_ANSWER, recordAttempt } from '../../server/services/webhook-delivery'
import { sendTestEvent } from '../../server/services/webhooks'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { api } from '../support/licenses'
import { verifyWith, WebhookReceiver, type Received } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * Webhooks end to end on the built worker in workerd with a real D1, and a real HTTP receiver on
 * 127.0.0.1 that checks every signature with the `standardwebhooks` package. Retries are driven by
 * the worker's own scheduled handler with a shortened schedule (vars), never by mocking the sender.
 */
let w: TestWorker
let receiver: WebhookReceiver
let admin: Caller
let user: Caller
let other: Caller
let userId = ''
const PASSWORD = 'webhook-password-1'
const CRON = '* * * * *'
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  w = await startWorker({ vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true', WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1', WEBHOOK_TIMEOUT_SECONDS: '2' } })
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const emails = [uniqueEmail('wh-user'), uniqueEmail('wh-other')]
  for (const email of emails) await admin.trpc.users.create.mutate({ email, password: PASSWORD })
  user = new Caller(w.url)
  other = new Caller(w.url)
  userId = (await user.login(emails[0]!, PASSWORD)).id
  await other.login(emails[1]!, PASSWORD)
})
afterAll(async () => {
  await w?.close()
  await receiver?.close()
})

async function endpoint(caller: Caller, path: string, opts: { allEvents?: boolean, eventTypes?: (typeof WEBHOOK_EVENT_TYPES)[number][] } = {}) {
  const { webhook, secret } = await caller.trpc.webhooks.create.mutate({ url: `${receiver.url}${path}`, ...opts })
  return { id: webhook.id, secret, path }
}

/** Run the cron until `done()` or the attempts run out (the schedule is 1 s between attempts). */
async function cronUntil(done: () => boolean, rounds = 12) {
  for (let i = 0; i < rounds && !done(); i++) {
    await sleep(1200)
    await w.scheduled(CRON)
  }
}

async function deliveriesOf(endpointId: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId))
}

const types = (rs: Received[]) => rs.map(r => r.json.type as string)

describe('webhook deliveries (real receiver, standardwebhooks verification)', () => {
  it('a license created in the web app reaches the receiver within seconds, signed, without key material', async () => {
    const ep = await endpoint(user, '/created')
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const started = Date.now()
    const { key, license } = await user.trpc.licenses.create.mutate({ label: 'Webhook license', expiresIn: '30d', maxDevices: 2, metadata: { tier: 'pro' } })
    const [r] = await receiver.waitFor(() => receiver.at('/created').length >= 1, 10_000)
    expect(Date.now() - started).toBeLessThan(10_000)
    const got = receiver.at('/created')[0]!
    expect(r).toBeDefined()
    expect(verifyWith(ep.secret, got)).toMatchObject({ type: 'license.created' })
    expect(got.id).toMatch(/^msg_[0-9a-z]+$/)
    expect(got.json).toMatchObject({
      type: 'license.created',
      data: { license: { id: license.id, label: 'Webhook license', status: 'active', maxDevices: 2, devicesUsed: 0, metadata: { tier: 'pro' }, renewalPeriod: null } },
    })
    expect(got.json.data.license.expiresAt).toBe(license.expiresAt!.toISOString())
    expect(new Date(got.json.timestamp).getTime()).toBeGreaterThan(started - 5000)
    // No key material: neither the key, its body, its hint, nor digests/ciphertexts.
    const body = key.replace(/-/g, '')
    expect(got.body).not.toContain(body.slice(2, 12))
    expect(got.body).not.toMatch(/key|digest|cipher|secret|owner/i)
    // A wrong secret fails verification.
    expect(() => verifyWith('whsec_' + Buffer.from('x'.repeat(24)).toString('base64'), got)).toThrow()
    await sleep(300) // the result is recorded just after the receiver answered
    const [d] = await deliveriesOf(ep.id)
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 })
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('first-attempt latency: 20 licenses created in the web app, each delivered within seconds', async () => {
    const ep = await endpoint(user, '/latency')
    const samples: { sinceCall: number, sinceResponse: number }[] = []
    for (let i = 0; i < 20; i++) {
      const before = receiver.at('/latency').length
      const called = performance.now()
      await user.trpc.licenses.create.mutate({ label: `latency ${i}` })
      const answered = performance.now()
      await receiver.waitFor(() => receiver.at('/latency').length > before, 10_000)
      const arrived = performance.now()
      samples.push({ sinceCall: arrived - called, sinceResponse: arrived - answered })
    }
    const stat = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b)
      return { p50: Math.round(sorted[Math.floor(sorted.length / 2)]!), p90: Math.round(sorted[Math.floor(sorted.length * 0.9)]!), max: Math.round(sorted.at(-1)!) }
    }
    const fromCall = stat(samples.map(s => s.sinceCall))
    const fromResponse = stat(samples.map(s => s.sinceResponse))
    console.info(`webhook first-attempt latency over ${samples.length} licenses (ms): from the create call ${JSON.stringify(fromCall)}, after its response ${JSON.stringify(fromResponse)}`)
    expect(fromCall.max).toBeLessThan(10_000)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('sends every license and device event type, to subscribed endpoints of the owner only', async () => {
    const all = await endpoint(user, '/all')
    const suspendOnly = await endpoint(user, '/suspend-only', { allEvents: false, eventTypes: ['license.suspended'] })
    const validated = await endpoint(user, '/validated', { allEvents: false, eventTypes: ['license.validated'] })
    const strangers = await endpoint(other, '/other-owner')
    const { key, license } = await user.trpc.licenses.create.mutate({ label: 'Everything', expiresIn: '10d', renewalPeriod: '30d' })
    await user.trpc.licenses.update.mutate({ id: license.id, label: 'Everything, renamed' })
    await user.trpc.licenses.suspend.mutate({ id: license.id })
    await user.trpc.licenses.reinstate.mutate({ id: license.id })
    await user.trpc.licenses.renew.mutate({ id: license.id })
    expect((await api(w, 'verify', { key })).json.code).toBe('VALID')
    // license.validated rides in the batched event flush after the response, and its outbox row joins the
    // license: wait for it before the license is deleted below (the self-hosted server answers fast).
    await receiver.waitFor(() => receiver.at('/validated').length >= 1, 10_000, 'license.validated')
    expect((await api(w, 'activate', { key, fingerprint: 'box-1', name: 'Box' })).json.code).toBe('ACTIVATED')
    expect((await api(w, 'deactivate', { key, fingerprint: 'box-1' })).json.code).toBe('DEACTIVATED')
    await api(w, 'activate', { key, fingerprint: 'box-2' })
    const detail = await user.trpc.licenses.get.query({ id: license.id })
    await user.trpc.licenses.freeDevice.mutate({ id: license.id, deviceId: detail.devices[0]!.id })
    await user.trpc.licenses.delete.mutate({ id: license.id })

    const expected = ['license.created', 'license.updated', 'license.suspended', 'license.reinstated', 'license.renewed',
      'device.activated', 'device.deactivated', 'device.activated', 'device.deactivated', 'license.deleted']
    await receiver.waitFor(() => receiver.at('/all').length >= expected.length && receiver.at('/validated').length >= 1, 15_000)
    await sleep(500)
    await w.scheduled(CRON) // nothing left pending
    const gotAll = receiver.at('/all')
    expect(types(gotAll).sort()).toEqual([...expected].sort())
    for (const r of gotAll) verifyWith(all.secret, r)
    expect(new Set(gotAll.map(r => r.id)).size).toBe(gotAll.length)
    // "All events" does not include license.validated; an explicit subscription does.
    expect(types(receiver.at('/validated'))).toEqual(['license.validated'])
    expect(receiver.at('/validated')[0]!.json.data).toMatchObject({ license: { id: license.id }, validation: { code: 'VALID', valid: true } })
    verifyWith(validated.secret, receiver.at('/validated')[0]!)
    expect(types(receiver.at('/suspend-only'))).toEqual(['license.suspended'])
    verifyWith(suspendOnly.secret, receiver.at('/suspend-only')[0]!)
    expect(receiver.at('/other-owner')).toHaveLength(0)
    expect(await deliveriesOf(strangers.id)).toHaveLength(0)

    const byType = (t: string) => gotAll.filter(r => r.json.type === t).map(r => r.json.data)
    expect(byType('license.updated')[0]).toMatchObject({ license: { label: 'Everything, renamed' }, changed: ['label'] })
    expect(byType('license.suspended')[0].license.status).toBe('suspended')
    expect(byType('license.renewed')[0]).toMatchObject({ from: expect.any(String), to: expect.any(String) })
    expect(byType('device.activated')).toEqual(expect.arrayContaining([expect.objectContaining({ device: expect.objectContaining({ fingerprint: 'box-1', name: 'Box' }) })]))
    expect(byType('license.deleted')[0].license).toMatchObject({ id: license.id, label: 'Everything, renamed' })
    for (const id of [all.id, suspendOnly.id, validated.id]) await user.trpc.webhooks.delete.mutate({ id })
    await other.trpc.webhooks.delete.mutate({ id: strangers.id })
  })

  it('receiver down for a while: every event arrives once it is back; duplicates only with the same webhook-id', async () => {
    const ep = await endpoint(user, '/outage')
    await receiver.close()
    onTestFinished(async () => { if (!receiver.listening) await receiver.reopen() })
    const made = []
    for (let i = 0; i < 4; i++) made.push(await user.trpc.licenses.create.mutate({ label: `outage ${i}` }))
    // First attempts fail (connection refused) and a couple of retries too.
    await sleep(1500)
    await w.scheduled(CRON)
    await sleep(1200)
    await w.scheduled(CRON)
    const pending = await deliveriesOf(ep.id)
    expect(pending).toHaveLength(4)
    expect(pending.map(d => ({ status: d.status, failedTwice: d.attempts >= 2 }))).toEqual(Array(4).fill({ status: 'pending', failedTwice: true }))
    expect((await user.trpc.webhooks.get.query({ id: ep.id })).health).toBe('failing')
    await receiver.reopen()
    await cronUntil(() => new Set(receiver.at('/outage').map(r => r.json.data.license.id)).size >= 4)
    const got = receiver.at('/outage')
    expect(new Set(got.map(r => r.json.data.license.id))).toEqual(new Set(made.map(m => m.license.id)))
    // At-least-once: any duplicate carries the same webhook-id and body.
    const byId = new Map<string, string>()
    for (const r of got) {
      verifyWith(ep.secret, r)
      if (byId.has(r.id)) expect(r.body).toBe(byId.get(r.id))
      byId.set(r.id, r.body)
    }
    expect(byId.size).toBe(4)
    const after = await deliveriesOf(ep.id)
    expect(after.every(d => d.status === 'succeeded')).toBe(true)
    expect((await user.trpc.webhooks.get.query({ id: ep.id })).health).toBe('healthy')
    const log = await user.trpc.webhooks.deliveries.query({ endpointId: ep.id })
    expect(log.items[0]!.attemptLog.length).toBeGreaterThanOrEqual(3)
    expect(log.items[0]!.attemptLog.at(-1)!.succeeded).toBe(false)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('a crash between sending and recording leads to a re-send with the same webhook-id', async () => {
    const ep = await endpoint(user, '/crash')
    await user.trpc.licenses.create.mutate({ label: 'crash' })
    await receiver.waitFor(() => receiver.at('/crash').length === 1)
    const first = receiver.at('/crash')[0]!
    // The state a crash after the send leaves behind: claimed (attempt counted, lease set), result never recorded.
    const { ctx } = w.context()
    await ctx.db.update(webhookDeliveries).set({ status: 'pending', attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: new Date(Date.now() + 2000) }).where(eq(webhookDeliveries.id, first.id))
    await w.scheduled(CRON)
    expect(receiver.at('/crash')).toHaveLength(1) // still leased
    await sleep(2100)
    await w.scheduled(CRON)
    await receiver.waitFor(() => receiver.at('/crash').length === 2)
    const again = receiver.at('/crash')[1]!
    expect(again.id).toBe(first.id)
    expect(again.body).toBe(first.body)
    verifyWith(ep.secret, again)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('500s and timeouts are retried on the schedule; the log shows every attempt', async () => {
    const ep = await endpoint(user, '/flaky')
    receiver.answers.set('/flaky', { status: 500, body: 'x'.repeat(5000) })
    await user.trpc.licenses.create.mutate({ label: 'flaky' })
    await receiver.waitFor(() => receiver.at('/flaky').length === 1)
    receiver.answers.set('/flaky', 'hang')
    await cronUntil(() => receiver.at('/flaky').length >= 2, 4)
    await sleep(2500) // the 2 s timeout passes
    receiver.answers.delete('/flaky')
    await cronUntil(() => receiver.at('/flaky').some(r => r.at > 0) && receiver.at('/flaky').length >= 3)
    await sleep(300)
    const log = await user.trpc.webhooks.deliveries.query({ endpointId: ep.id })
    const d = log.items[0]!
    expect(d.status).toBe('succeeded')
    const attempts = [...d.attemptLog].reverse()
    expect(attempts[0]).toMatchObject({ statusCode: 500, succeeded: false })
    expect(attempts[0]!.response!.length).toBeLessThanOrEqual(1024)
    expect(attempts.some(a => a.response === NO_ANSWER && a.statusCode === null && a.latencyMs === null)).toBe(true)
    expect(attempts.at(-1)).toMatchObject({ statusCode: 200, succeeded: true })
    expect(d.attempts).toBe(attempts.length)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('410 Gone disables the endpoint; its pending events wait and go out once re-enabled', async () => {
    const ep = await endpoint(user, '/gone')
    receiver.answers.set('/gone', { status: 410 })
    await user.trpc.licenses.create.mutate({ label: 'gone' })
    await receiver.waitFor(() => receiver.at('/gone').length === 1)
    await sleep(300)
    const view = await user.trpc.webhooks.get.query({ id: ep.id })
    expect(view).toMatchObject({ enabled: false, health: 'disabled' })
    expect(view.disabledReason).toMatch(/410/)
    await user.trpc.licenses.create.mutate({ label: 'gone, not sent' })
    await sleep(1300)
    await w.scheduled(CRON)
    expect(receiver.at('/gone')).toHaveLength(1)
    receiver.answers.delete('/gone')
    await user.trpc.webhooks.update.mutate({ id: ep.id, enabled: true })
    await cronUntil(() => receiver.at('/gone').length >= 2)
    expect(types(receiver.at('/gone'))).toEqual(['license.created', 'license.created'])
    expect((await user.trpc.webhooks.get.query({ id: ep.id })).disabledReason).toBeNull()
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('honours Retry-After on 429 and 503', async () => {
    const ep = await endpoint(user, '/throttled')
    receiver.answers.set('/throttled', { status: 429, headers: { 'retry-after': '30' } })
    await user.trpc.licenses.create.mutate({ label: 'throttled' })
    await receiver.waitFor(() => receiver.at('/throttled').length === 1)
    await sleep(300)
    const [d] = await deliveriesOf(ep.id)
    expect(d!.status).toBe('pending')
    expect(d!.nextAttemptAt!.getTime() - Date.now()).toBeGreaterThan(25_000)
    await sleep(1300)
    await w.scheduled(CRON)
    expect(receiver.at('/throttled')).toHaveLength(1) // the 1 s schedule did not override Retry-After
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('secret rotation: during the overlap both signatures verify; reveal shows the new one', async () => {
    const ep = await endpoint(user, '/rotate')
    const rotated = await user.trpc.webhooks.rotateSecret.mutate({ id: ep.id, overlapHours: 24 })
    expect(rotated.secret).not.toBe(ep.secret)
    expect(rotated.webhook.rotating).toBe(true)
    expect((await user.trpc.webhooks.revealSecret.mutate({ id: ep.id })).secret).toBe(rotated.secret)
    await user.trpc.licenses.create.mutate({ label: 'rotation' })
    await receiver.waitFor(() => receiver.at('/rotate').length === 1)
    const r = receiver.at('/rotate')[0]!
    expect(r.signature.split(' ')).toHaveLength(2)
    verifyWith(ep.secret, r)
    verifyWith(rotated.secret, r)
    // Without overlap the old secret stops at once.
    const again = await user.trpc.webhooks.rotateSecret.mutate({ id: ep.id, overlapHours: 0 })
    await user.trpc.licenses.create.mutate({ label: 'rotation 2' })
    await receiver.waitFor(() => receiver.at('/rotate').length === 2)
    const r2 = receiver.at('/rotate')[1]!
    verifyWith(again.secret, r2)
    expect(() => verifyWith(rotated.secret, r2)).toThrow()
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('send test event and replay (same webhook-id), through the procedures', async () => {
    const ep = await endpoint(user, '/test-event')
    const test = await user.trpc.webhooks.sendTest.mutate({ id: ep.id })
    expect(test).toMatchObject({ eventType: 'webhook.test', status: 'succeeded', lastStatusCode: 200, attempts: 1 })
    expect(receiver.at('/test-event')).toHaveLength(1)
    expect(verifyWith(ep.secret, receiver.at('/test-event')[0]!)).toMatchObject({ type: 'webhook.test' })
    await user.trpc.webhooks.replay.mutate({ id: test.id })
    await receiver.waitFor(() => receiver.at('/test-event').length === 2)
    expect(receiver.at('/test-event')[1]!.id).toBe(test.id)
    await sleep(300)
    const log = await user.trpc.webhooks.deliveries.query({ endpointId: ep.id })
    expect(log.items[0]).toMatchObject({ id: test.id, attempts: 2, status: 'succeeded' })
    // Other users cannot see, replay or test it.
    expect((await errorOf(other.trpc.webhooks.replay.mutate({ id: test.id }))).code).toBe('NOT_FOUND')
    expect((await errorOf(other.trpc.webhooks.deliveries.query({ endpointId: ep.id }))).code).toBe('NOT_FOUND')
    // Admins see every endpoint, with its owner.
    const listed = await admin.trpc.webhooks.list.query({})
    expect(listed.find(x => x.id === ep.id)).toMatchObject({ ownerId: userId })
    await user.trpc.webhooks.update.mutate({ id: ep.id, enabled: false })
    expect((await errorOf(user.trpc.webhooks.sendTest.mutate({ id: ep.id }))).code).toBe('BAD_REQUEST')
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('keyset-pages the delivery log', async () => {
    const ep = await endpoint(user, '/paging')
    for (let i = 0; i < 5; i++) await user.trpc.webhooks.sendTest.mutate({ id: ep.id })
    const seen: string[] = []
    let cursor: string | undefined
    for (let i = 0; i < 5; i++) {
      const page = await user.trpc.webhooks.deliveries.query({ endpointId: ep.id, limit: 2, cursor })
      seen.push(...page.items.map(d => d.id))
      if (!page.nextCursor) break
      cursor = page.nextCursor
    }
    expect(seen).toHaveLength(5)
    expect(new Set(seen).size).toBe(5)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('bad input to every webhooks procedure is a 4xx, never a 500', async () => {
    const ep = await endpoint(user, '/hostile')
    const bad: [string, () => Promise<unknown>][] = [
      ['create url', () => user.trpc.webhooks.create.mutate({ url: 'not a url' })],
      ['create ftp', () => user.trpc.webhooks.create.mutate({ url: 'ftp://example.com/x' })],
      ['create long', () => user.trpc.webhooks.create.mutate({ url: `https://example.com/${'a'.repeat(3000)}` })],
      ['create type', () => user.trpc.webhooks.create.mutate({ url: 'https://example.com/x', allEvents: false, eventTypes: ['license.exploded' as never] })],
      ['create none', () => user.trpc.webhooks.create.mutate({ url: 'https://example.com/x', allEvents: false, eventTypes: [] })],
      ['create desc', () => user.trpc.webhooks.create.mutate({ url: 'https://example.com/x', description: 'd'.repeat(500) })],
      ['create creds', () => user.trpc.webhooks.create.mutate({ url: 'https://user:pw@example.com/x' })],
      ['update id', () => user.trpc.webhooks.update.mutate({ id: 'nope', url: 'https://example.com/y' })],
      ['update none', () => user.trpc.webhooks.update.mutate({ id: ep.id, allEvents: false, eventTypes: [] })],
      ['update missing', () => user.trpc.webhooks.update.mutate({ id: 'whk_doesnotexist', description: 'x' })],
      ['get', () => user.trpc.webhooks.get.query({ id: '../../etc' })],
      ['delete', () => user.trpc.webhooks.delete.mutate({ id: 'whk_doesnotexist' })],
      ['reveal', () => user.trpc.webhooks.revealSecret.mutate({ id: 42 as never })],
      ['rotate', () => user.trpc.webhooks.rotateSecret.mutate({ id: ep.id, overlapHours: -1 })],
      ['rotate big', () => user.trpc.webhooks.rotateSecret.mutate({ id: ep.id, overlapHours: 10_000 })],
      ['deliveries cursor', () => user.trpc.webhooks.deliveries.query({ endpointId: ep.id, cursor: 'garbage' })],
      ['deliveries limit', () => user.trpc.webhooks.deliveries.query({ endpointId: ep.id, limit: 10_000 })],
      ['deliveries status', () => user.trpc.webhooks.deliveries.query({ endpointId: ep.id, status: 'weird' as never })],
      ['sendTest', () => user.trpc.webhooks.sendTest.mutate({ id: 'whk_doesnotexist' })],
      ['replay', () => user.trpc.webhooks.replay.mutate({ id: 'msg_doesnotexist' })],
      ['list owner', () => user.trpc.webhooks.list.query({ ownerId: 'usr_someoneelse' })],
    ]
    for (const [what, call] of bad) {
      const e = await errorOf(call())
      expect(e.status, what).toBeGreaterThanOrEqual(400)
      expect(e.status, what).toBeLessThan(500)
    }
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('never stores a webhook secret in plaintext or in the audit log', async () => {
    const ep = await endpoint(user, '/audit')
    await user.trpc.webhooks.revealSecret.mutate({ id: ep.id })
    const rotated = await user.trpc.webhooks.rotateSecret.mutate({ id: ep.id })
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events)
    const dump = JSON.stringify(rows)
    for (const s of [ep.secret, rotated.secret]) {
      expect(dump).not.toContain(s)
      expect(dump).not.toContain(s.slice(6))
    }
    expect(rows.map(r => r.type)).toEqual(expect.arrayContaining(['webhook.created', 'webhook.secret_revealed', 'webhook.secret_rotated']))
    const [stored] = await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id))
    expect(JSON.stringify(stored)).not.toContain(rotated.secret.slice(6))
    expect(JSON.stringify(stored)).not.toContain(ep.secret.slice(6))
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })
})

describe('webhook targets on a local install, and what a caller can learn from them', () => {
  it('allows exactly localhost, 127.0.0.1 and [::1] beyond production\'s rules', async () => {
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      const { webhook } = await user.trpc.webhooks.create.mutate({ url: `http://${host}:${receiver.port}/local`, enabled: false })
      await user.trpc.webhooks.delete.mutate({ id: webhook.id })
    }
    const refused = [
      'http://10.0.0.1/h', 'http://192.168.1.20/h', 'http://172.20.0.2/h', 'http://169.254.169.254/latest', 'http://100.64.0.1/h',
      `http://127.0.0.2:${receiver.port}/h`, `http://[::ffff:127.0.0.1]:${receiver.port}/h`, `http://[::ffff:7f00:1]:${receiver.port}/h`,
      `http://0.0.0.0:${receiver.port}/h`, `http://[::]:${receiver.port}/h`, 'http://[fe80::1]/h', 'http://[fd00::1]/h', 'http://a.localhost/h',
      'http://example.com/h', 'http://nas.local/h',
    ]
    for (const url of refused) expect((await errorOf(user.trpc.webhooks.create.mutate({ url, enabled: false }))).code, url).toBe('BAD_REQUEST')
  })

  it('re-checks the rules before every attempt: a stored URL that is refused now is never sent to', async () => {
    // An endpoint saved under older, looser rules: loopback in disguise, pointing at the receiver.
    const { ctx } = w.context()
    const id = `whk_stale${Date.now().toString(36)}`
    const now = new Date()
    await ctx.db.insert(webhookEndpoints).values({ id, ownerId: userId, url: `http://[::ffff:127.0.0.1]:${receiver.port}/stale`, secretCiphertext: 'v1.x.y', createdAt: now, updatedAt: now })
    await user.trpc.licenses.create.mutate({ label: 'stale-target' })
    let attempts: { response: string | null }[] = []
    for (let i = 0; i < 100 && attempts.length === 0; i++) {
      attempts = (await user.trpc.webhooks.deliveries.query({ endpointId: id })).items.flatMap(d => d.attemptLog)
      if (!attempts.length) await sleep(50)
    }
    expect(attempts[0]!.response).toMatch(/^Not sent: /)
    expect(receiver.at('/stale')).toHaveLength(0)
    await user.trpc.webhooks.delete.mutate({ id })
  })

  it('"send test" answers a refused connection and a timeout alike: same text, no latency, after the full timeout', async () => {
    // Through the service, from Node: the test harness hands the worker's outbound requests to Node's
    // fetch and turns a refused connection into an HTTP 500, which a deployed Worker never sees. Here
    // the sender's fetch fails as it does on a server (a refused port, a silent one), on the real D1.
    const closed = await new WebhookReceiver().start()
    const closedPort = closed.port
    await closed.close() // nothing listens there: connection refused at once
    const refusedEp = (await user.trpc.webhooks.create.mutate({ url: `http://127.0.0.1:${closedPort}/x` })).webhook
    receiver.answers.set('/silent', 'hang') // accepts, never answers: the 2 s timeout
    const silentEp = (await user.trpc.webhooks.create.mutate({ url: `${receiver.url}/silent` })).webhook
    const { ctx } = w.context({ type: 'user', id: userId })
    const timed = async (id: string) => {
      const started = performance.now()
      const d = await sendTestEvent(ctx, { ownerId: userId }, id)
      return { ms: performance.now() - started, last: { status: d.status, code: d.lastStatusCode, latency: d.lastLatencyMs, response: d.lastResponse }, attempt: d.attemptLog.map(a => ({ code: a.statusCode, latency: a.latencyMs, response: a.response })) }
    }
    const [refused, silent] = [await timed(refusedEp.id), await timed(silentEp.id)]
    receiver.answers.delete('/silent')
    expect(refused.last).toEqual(silent.last)
    expect(refused.attempt).toEqual(silent.attempt)
    expect(refused.last).toEqual({ status: 'pending', code: null, latency: null, response: NO_ANSWER })
    // Both took the whole timeout (2 s): the caller cannot time the difference either.
    expect(refused.ms).toBeGreaterThanOrEqual(1950)
    expect(silent.ms).toBeGreaterThanOrEqual(1950)
    for (const ep of [refusedEp, silentEp]) await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })

  it('keeps a URL\'s query string (often a token) out of the log and the test payload', async () => {
    const { webhook } = await user.trpc.webhooks.create.mutate({ url: `${receiver.url}/tokened?token=tok-s3cr3t-42&x=1` })
    await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    await receiver.waitFor(() => receiver.at('/tokened').length === 1)
    const payload = receiver.at('/tokened')[0]!
    expect(payload.json.data.endpoint.url).toBe(`${receiver.url}/tokened?…`)
    expect(payload.body).not.toContain('tok-s3cr3t-42')
    await user.trpc.webhooks.delete.mutate({ id: webhook.id })
    const { ctx } = w.context()
    const logged = await ctx.db.select().from(events).where(eq(events.subjectId, webhook.id))
    expect(logged.map(e => e.type)).toEqual(expect.arrayContaining(['webhook.created', 'webhook.deleted']))
    expect(JSON.stringify(logged)).not.toContain('tok-s3cr3t-42')
    expect(JSON.stringify(await user.trpc.log.mine.query({ limit: 100 }))).not.toContain('tok-s3cr3t-42')
  })

  it('an attempt recorded after its claim was taken over writes nothing: no attempt row, no health change', async () => {
    const ep = await endpoint(user, '/taken-over')
    receiver.answers.set('/taken-over', { status: 500 })
    await user.trpc.licenses.create.mutate({ label: 'taken-over' })
    await receiver.waitFor(() => receiver.at('/taken-over').length === 1)
    receiver.answers.delete('/taken-over')
    const { ctx } = w.context()
    // Wait until that first attempt (a 500) is recorded: one attempt row, the delivery pending again.
    let attemptsBefore = 0
    for (let i = 0; i < 200 && attemptsBefore === 0; i++) {
      attemptsBefore = (await user.trpc.webhooks.deliveries.query({ endpointId: ep.id })).items[0]?.attemptLog.length ?? 0
      if (!attemptsBefore) await sleep(25)
    }
    expect(attemptsBefore).toBe(1)
    const before = { delivery: (await deliveriesOf(ep.id))[0]!, endpoint: (await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id)))[0]! }
    expect(before.delivery).toMatchObject({ status: 'pending', lastStatusCode: 500 })
    // A stale claim: the attempt count this sender saw is behind the row's (someone else claimed it since).
    const stale = { ...before.delivery, attempts: before.delivery.attempts - 1 }
    await recordAttempt(ctx, stale, before.endpoint, { ok: true, statusCode: 200, latencyMs: 5, response: 'ok', retryAfterMs: null })
    const [after] = await deliveriesOf(ep.id)
    const [endpointAfter] = await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id))
    expect(after).toEqual(before.delivery)
    expect(endpointAfter).toEqual(before.endpoint)
    expect((await user.trpc.webhooks.deliveries.query({ endpointId: ep.id })).items[0]!.attemptLog).toHaveLength(attemptsBefore)
    await user.trpc.webhooks.delete.mutate({ id: ep.id })
  })
})
