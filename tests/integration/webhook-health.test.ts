import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookDeliveries } from '../../db/schema'
import { Caller, uniqueEmail } from '../support/client'
import { WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * An endpoint's health follows its last attempts (server/services/webhook-health.ts), on the built
 * worker with a real receiver on 127.0.0.1: new → retrying (with "retry n of m" and a future time,
 * never a past one) → failing → healthy with "Last delivered" → disabled.
 */
let w: TestWorker
let receiver: WebhookReceiver
let user: Caller
const SCHEDULE = '60,60,60,60'

beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  w = await startWorker({ vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true', WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_TIMEOUT_SECONDS: '2' } })
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const email = uniqueEmail('health')
  await admin.trpc.users.create.mutate({ email, password: 'health-password-1' })
  user = new Caller(w.url)
  await user.login(email, 'health-password-1')
})
afterAll(async () => {
  await w?.close()
  await receiver?.close()
})

async function pendingOf(endpointId: string) {
  const { ctx } = w.context()
  return (await ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId))).filter(d => d.status === 'pending')
}

describe('webhook health from the last attempts', () => {
  it('new → retrying after its only attempt failed → failing after 3 in a row → healthy → disabled', async () => {
    receiver.answers.set('/flaky', { status: 500, body: 'boom' })
    const { webhook } = await user.trpc.webhooks.create.mutate({ url: `${receiver.url}/flaky` })
    expect(webhook).toMatchObject({ health: 'new', nextRetry: null, lastAttemptAt: null, lastSuccessAt: null })

    // One failed attempt: not "healthy" (the old bug) but retrying, with the next retry ahead.
    const before = Date.now()
    const first = await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    expect(first).toMatchObject({ status: 'pending', lastStatusCode: 500, nextAttemptDue: false, nextRetry: { retry: 1, of: 4 } })
    expect(first.nextAttemptAt!.getTime()).toBeGreaterThan(before)
    let view = await user.trpc.webhooks.get.query({ id: webhook.id })
    expect(view).toMatchObject({ health: 'retrying', consecutiveFailures: 1, lastSuccessAt: null, nextRetry: { retry: 1, of: 4 } })
    expect(view.nextRetry!.at!.getTime()).toBeGreaterThan(Date.now())
    expect(view.lastAttemptAt).toEqual(view.lastFailureAt)
    const listed = (await user.trpc.webhooks.list.query({})).find(x => x.id === webhook.id)!
    expect(listed).toMatchObject({ health: 'retrying', nextRetry: { retry: 1, of: 4 } })

    // A retry whose time has come (waiting for the next cron run) is "due", never a time in the past.
    const { ctx } = w.context()
    const [pending] = await pendingOf(webhook.id)
    await ctx.db.update(webhookDeliveries).set({ nextAttemptAt: new Date(Date.now() - 3000) }).where(eq(webhookDeliveries.id, pending!.id))
    view = await user.trpc.webhooks.get.query({ id: webhook.id })
    expect(view).toMatchObject({ health: 'retrying', nextRetry: { at: null, retry: 1, of: 4 } })
    const log = await user.trpc.webhooks.deliveries.query({ endpointId: webhook.id })
    expect(log.items.find(d => d.id === pending!.id)).toMatchObject({ status: 'pending', nextAttemptAt: null, nextAttemptDue: true })

    // Three failed attempts in a row: failing.
    await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    expect((await user.trpc.webhooks.get.query({ id: webhook.id })).health).toBe('retrying')
    await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    view = await user.trpc.webhooks.get.query({ id: webhook.id })
    expect(view).toMatchObject({ health: 'failing', consecutiveFailures: 3, lastSuccessAt: null })

    // The receiver is fixed: the next attempt succeeds, "Last delivered" is filled.
    receiver.answers.set('/flaky', { status: 200, body: 'ok' })
    const ok = await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    expect(ok.status).toBe('succeeded')
    view = await user.trpc.webhooks.get.query({ id: webhook.id })
    expect(view).toMatchObject({ health: 'healthy', consecutiveFailures: 0 })
    expect(view.lastSuccessAt).toBeInstanceOf(Date)
    expect(view.lastAttemptAt).toEqual(view.lastSuccessAt)
    expect((await user.trpc.webhooks.list.query({})).find(x => x.id === webhook.id)!.lastSuccessAt).toEqual(view.lastSuccessAt)

    // After a success, one new failure is not hidden behind the old success.
    receiver.answers.set('/flaky', { status: 503, body: 'down' })
    await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    expect((await user.trpc.webhooks.get.query({ id: webhook.id })).health).toBe('retrying')

    // Switched off: disabled, and no retry is announced (none is sent).
    const off = await user.trpc.webhooks.update.mutate({ id: webhook.id, enabled: false })
    expect(off).toMatchObject({ health: 'disabled', nextRetry: null })
    await user.trpc.webhooks.delete.mutate({ id: webhook.id })
  })

  it('a failure with nothing left to retry is failing, not retrying', async () => {
    receiver.answers.set('/given-up', { status: 500 })
    const { webhook } = await user.trpc.webhooks.create.mutate({ url: `${receiver.url}/given-up` })
    await user.trpc.webhooks.sendTest.mutate({ id: webhook.id })
    expect((await user.trpc.webhooks.get.query({ id: webhook.id })).health).toBe('retrying')
    // What the sender writes once the schedule is used up (server/services/webhook-delivery.ts recordAttempt).
    const { ctx } = w.context()
    await ctx.db.update(webhookDeliveries).set({ status: 'failed', nextAttemptAt: null }).where(eq(webhookDeliveries.endpointId, webhook.id))
    const view = await user.trpc.webhooks.get.query({ id: webhook.id })
    expect(view).toMatchObject({ health: 'failing', nextRetry: null, consecutiveFailures: 1, failedDeliveries: 1 })
    await user.trpc.webhooks.delete.mutate({ id: webhook.id })
  })
})
