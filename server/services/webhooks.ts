import { and, desc, eq, exists, inArray, sql, type SQL } from 'drizzle-orm'
import type { z } from 'zod'
import { users, webhookAttempts, webhookDeliveries, webhookEndpoints, type WebhookDelivery, type WebhookEndpoint } from '../../db/schema'
import { OPT_IN_EVENT_TYPES, TEST_EVENT_TYPE, type createWebhookSchema, type listDeliveriesSchema, type rotateWebhookSecretSchema, type updateWebhookSchema, type WebhookEventType } from '../../shared/schemas/webhooks'
import { changesAnything } from '../lib/insert-where'
import { decryptKey, encryptKey } from '../lib/keys'
import { decodeCursor, encodeCursor } from '../lib/paging'
import { newId } from '../lib/random'
import { targetRules, webhookTargetProblem } from '../lib/webhook-target'
import { redactUrl } from '../lib/webhook-url'
import { generateWebhookSecret } from '../lib/webhook-signing'
import { ownedBy, type OwnerScope } from './authz'
import { nowOf, type ServiceContext } from './context'
import { notFound, ServiceError } from './errors'
import { recordEvent, recordEventWhere } from './events'
import { deliverAfterCommit } from './webhook-outbox'
import { deliverMessages, NO_ANSWER, retrySchedule, signingSecrets, timeoutMs } from './webhook-delivery'
import { pendingRetries, webhookHealth, type PendingDelivery } from './webhook-health'

/** Whose endpoints a call may see and touch (server/services/authz.ts: scopeOf); it goes into every WHERE clause. */
export type WebhookScope = OwnerScope

const inScope = (scope: WebhookScope, id?: string): SQL | undefined => and(
  id ? eq(webhookEndpoints.id, id) : undefined,
  ownedBy(scope, webhookEndpoints.ownerId),
)

export type WebhookView = ReturnType<typeof webhookView>

/** An endpoint as the web app and CLI see it: never a secret. `pending`: its soonest waiting retry (webhook-health.ts). */
export function webhookView(ctx: ServiceContext, ep: WebhookEndpoint, ownerEmail: string | null, pending: PendingDelivery | null = null) {
  const now = nowOf(ctx)
  const { health, lastAttemptAt, nextRetry } = webhookHealth(ep, pending, retrySchedule(ctx.env).length, now)
  return {
    id: ep.id,
    ownerId: ep.ownerId,
    ownerEmail,
    url: ep.url,
    description: ep.description,
    allEvents: ep.allEvents,
    eventTypes: ep.eventTypes as WebhookEventType[],
    enabled: ep.enabled,
    disabledReason: ep.disabledReason,
    /** From the last attempts: new, healthy, retrying, failing or disabled (server/services/webhook-health.ts). */
    health,
    /** The soonest waiting retry: when (null = due, sent by the next cron run) and which of how many; never a past time. */
    nextRetry,
    consecutiveFailures: ep.consecutiveFailures,
    /** "Last delivered": the newest successful attempt. */
    lastSuccessAt: ep.lastSuccessAt,
    lastFailureAt: ep.lastFailureAt,
    lastAttemptAt,
    rotating: !!(ep.previousSecretExpiresAt && ep.previousSecretExpiresAt.getTime() > now.getTime()),
    previousSecretExpiresAt: ep.previousSecretExpiresAt && ep.previousSecretExpiresAt.getTime() > now.getTime() ? ep.previousSecretExpiresAt : null,
    createdAt: ep.createdAt,
    updatedAt: ep.updatedAt,
  }
}

/** The target rules (server/lib/webhook-target.ts): on the URL itself, and on the addresses a host name resolves to. */
async function checkUrl(ctx: ServiceContext, url: string) {
  const problem = await webhookTargetProblem(url, targetRules(ctx.env))
  if (problem) throw new ServiceError('BAD_REQUEST', problem, { url: [problem] })
}

/** With "all events", only the opt-in types (license.validated) need listing. */
function subscription(allEvents: boolean, eventTypes: WebhookEventType[]) {
  return { allEvents, eventTypes: allEvents ? eventTypes.filter(t => OPT_IN_EVENT_TYPES.includes(t)) : eventTypes }
}

/** SQL: the endpoint is (still) there and in scope — the condition of an event about changing it. */
const stillThere = (ctx: ServiceContext, scope: WebhookScope, id: string) =>
  exists(ctx.db.select({ one: sql`1` }).from(webhookEndpoints).where(inScope(scope, id)))

function webhookEvent(type: string, ep: Pick<WebhookEndpoint, 'id' | 'ownerId'>, detail?: Record<string, unknown>) {
  return { type, outcome: 'success', subjectType: 'webhook', subjectId: ep.id, ownerId: ep.ownerId, detail }
}

export async function createWebhook(ctx: ServiceContext, ownerId: string, input: z.output<typeof createWebhookSchema>) {
  const [owner] = await ctx.db.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, ownerId)).limit(1)
  if (!owner) throw new ServiceError('BAD_REQUEST', 'No such owner', { ownerId: ['No such user'] })
  await checkUrl(ctx, input.url)
  const now = nowOf(ctx)
  const secret = generateWebhookSecret()
  const row: WebhookEndpoint = {
    id: newId('whk'),
    ownerId,
    url: input.url,
    description: input.description,
    ...subscription(input.allEvents, input.eventTypes),
    enabled: input.enabled,
    disabledReason: null,
    secretCiphertext: await encryptKey(ctx.env.KEY_ENC_SECRET, secret),
    previousSecretCiphertext: null,
    previousSecretExpiresAt: null,
    consecutiveFailures: 0,
    lastSuccessAt: null,
    lastFailureAt: null,
    createdAt: now,
    updatedAt: now,
  }
  await ctx.db.batch([
    ctx.db.insert(webhookEndpoints).values(row),
    recordEvent(ctx, webhookEvent('webhook.created', row, { url: redactUrl(row.url), allEvents: row.allEvents, eventTypes: row.eventTypes })),
  ])
  return { webhook: webhookView(ctx, row, owner.email), secret }
}

export async function listWebhooks(ctx: ServiceContext, scope: WebhookScope, filter: { ownerId?: string } = {}) {
  const where = and(inScope(scope), filter.ownerId ? eq(webhookEndpoints.ownerId, filter.ownerId) : undefined)
  const [rows, pending] = await Promise.all([
    ctx.db.select({ ep: webhookEndpoints, ownerEmail: users.email })
      .from(webhookEndpoints).innerJoin(users, eq(users.id, webhookEndpoints.ownerId))
      .where(where)
      .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
      .limit(500),
    pendingRetries(ctx, where),
  ])
  return rows.map(r => webhookView(ctx, r.ep, r.ownerEmail, pending.get(r.ep.id) ?? null))
}

/** One endpoint's view with its waiting retry (one more read). */
async function viewWithRetry(ctx: ServiceContext, ep: WebhookEndpoint, ownerEmail: string | null) {
  const pending = await pendingRetries(ctx, eq(webhookEndpoints.id, ep.id))
  return webhookView(ctx, ep, ownerEmail, pending.get(ep.id) ?? null)
}

async function findInScope(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const [row] = await ctx.db.select({ ep: webhookEndpoints, ownerEmail: users.email })
    .from(webhookEndpoints).innerJoin(users, eq(users.id, webhookEndpoints.ownerId)).where(inScope(scope, id)).limit(1)
  if (!row) throw notFound('Webhook endpoint')
  return row
}

export async function getWebhook(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const { ep, ownerEmail } = await findInScope(ctx, scope, id)
  const [counts] = await ctx.db.select({
    pending: sql<number>`coalesce(sum(${webhookDeliveries.status} = 'pending'), 0)`,
    failed: sql<number>`coalesce(sum(${webhookDeliveries.status} = 'failed'), 0)`,
  }).from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id))
  return { ...(await viewWithRetry(ctx, ep, ownerEmail)), pendingDeliveries: Number(counts?.pending ?? 0), failedDeliveries: Number(counts?.failed ?? 0) }
}

export async function updateWebhook(ctx: ServiceContext, scope: WebhookScope, input: z.output<typeof updateWebhookSchema>) {
  const { ep: before, ownerEmail } = await findInScope(ctx, scope, input.id)
  const now = nowOf(ctx)
  const changes: Partial<WebhookEndpoint> = {}
  if (input.url !== undefined && input.url !== before.url) {
    await checkUrl(ctx, input.url)
    changes.url = input.url
  }
  if (input.description !== undefined) changes.description = input.description
  if (input.allEvents !== undefined || input.eventTypes !== undefined) {
    const next = subscription(input.allEvents ?? before.allEvents, input.eventTypes ?? before.eventTypes as WebhookEventType[])
    if (!next.allEvents && next.eventTypes.length === 0) {
      throw new ServiceError('BAD_REQUEST', 'Pick at least one event type, or all events', { eventTypes: ['Pick at least one event type, or all events'] })
    }
    Object.assign(changes, next)
  }
  if (input.enabled !== undefined) {
    changes.enabled = input.enabled
    if (input.enabled) changes.disabledReason = null
  }
  // Saving the same values changes nothing: no write, no event (docs/system-log.md).
  const changed: Partial<WebhookEndpoint> = Object.fromEntries(Object.entries(changes)
    .filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k as keyof WebhookEndpoint])))
  if (Object.keys(changed).length === 0) return await viewWithRetry(ctx, before, ownerEmail)
  // The event on the update's own condition: the endpoint is still there and the values still differ.
  const target = and(inScope(scope, input.id), changesAnything(webhookEndpoints, changed))
  const [, updated] = await ctx.db.batch([
    recordEventWhere(ctx, webhookEvent('webhook.updated', before, { changed: Object.keys(changed) }), exists(ctx.db.select({ one: sql`1` }).from(webhookEndpoints).where(target))).insert,
    ctx.db.update(webhookEndpoints).set({ ...changed, updatedAt: now }).where(target).returning(),
  ])
  if (updated[0]) return await viewWithRetry(ctx, updated[0], ownerEmail)
  // Nothing left to change (a concurrent save got there first), or gone meanwhile (NOT_FOUND).
  const { ep } = await findInScope(ctx, scope, input.id)
  return await viewWithRetry(ctx, ep, ownerEmail)
}

export async function deleteWebhook(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const { ep } = await findInScope(ctx, scope, id)
  const [, deleted] = await ctx.db.batch([
    recordEventWhere(ctx, webhookEvent('webhook.deleted', ep, { url: redactUrl(ep.url) }), stillThere(ctx, scope, id)).insert,
    ctx.db.delete(webhookEndpoints).where(inScope(scope, id)).returning({ id: webhookEndpoints.id }),
  ])
  if (!deleted[0]) throw notFound('Webhook endpoint')
  return { ok: true }
}

/** The current signing secret, decrypted for its owner (or an admin). Recorded, since it reveals a secret. */
export async function revealWebhookSecret(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const { ep } = await findInScope(ctx, scope, id)
  const [secret] = await signingSecrets(ctx.env, ep, nowOf(ctx))
  await recordEvent(ctx, webhookEvent('webhook.secret_revealed', ep))
  return { secret: secret! }
}

/** A new secret; the old one keeps signing (both signatures sent) for `overlapHours`. */
export async function rotateWebhookSecret(ctx: ServiceContext, scope: WebhookScope, input: z.output<typeof rotateWebhookSecretSchema>) {
  const { ep, ownerEmail } = await findInScope(ctx, scope, input.id)
  const now = nowOf(ctx)
  const secret = generateWebhookSecret()
  const previousSecretExpiresAt = input.overlapHours > 0 ? new Date(now.getTime() + input.overlapHours * 3_600_000) : null
  const [, updated] = await ctx.db.batch([
    recordEventWhere(ctx, webhookEvent('webhook.secret_rotated', ep, { overlapHours: input.overlapHours }), stillThere(ctx, scope, input.id)).insert,
    ctx.db.update(webhookEndpoints).set({
      secretCiphertext: await encryptKey(ctx.env.KEY_ENC_SECRET, secret),
      previousSecretCiphertext: previousSecretExpiresAt ? ep.secretCiphertext : null,
      previousSecretExpiresAt,
      updatedAt: now,
    }).where(inScope(scope, input.id)).returning(),
  ])
  if (!updated[0]) throw notFound('Webhook endpoint')
  return { webhook: await viewWithRetry(ctx, updated[0], ownerEmail), secret }
}

export type DeliveryView = ReturnType<typeof deliveryView>

function deliveryView(ctx: ServiceContext, d: WebhookDelivery, attempts: (typeof webhookAttempts.$inferSelect)[] = []) {
  const now = nowOf(ctx)
  const pending = d.status === 'pending'
  const future = pending && !!d.nextAttemptAt && d.nextAttemptAt.getTime() > now.getTime()
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    /** While pending: the next attempt, only if still ahead (never a time in the past)… */
    nextAttemptAt: future ? d.nextAttemptAt : null,
    /** …or due: sent by the next cron run (within a minute). */
    nextAttemptDue: pending && !future,
    /** While pending after a failure: which retry comes next, of how many in the schedule. */
    nextRetry: pending && d.retryStep > 0 ? { retry: d.retryStep, of: retrySchedule(ctx.env).length } : null,
    lastAttemptAt: d.lastAttemptAt,
    lastStatusCode: d.lastStatusCode,
    lastLatencyMs: d.lastLatencyMs,
    lastResponse: d.lastResponse,
    payload: d.payload,
    createdAt: d.createdAt,
    attemptLog: attempts.map(a => ({ id: a.id, attemptedAt: a.attemptedAt, statusCode: a.statusCode, latencyMs: a.latencyMs, response: a.response, succeeded: a.succeeded })),
  }
}

/** An endpoint's delivery log, newest first, keyset-paged; each with its attempts. */
export async function listDeliveries(ctx: ServiceContext, scope: WebhookScope, input: z.output<typeof listDeliveriesSchema>) {
  await findInScope(ctx, scope, input.endpointId)
  const c = input.cursor ? decodeCursor(input.cursor) : null
  const rows = await ctx.db.select().from(webhookDeliveries)
    .where(and(
      eq(webhookDeliveries.endpointId, input.endpointId),
      input.status ? eq(webhookDeliveries.status, input.status) : undefined,
      c ? sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${c.ms}, ${c.id})` : undefined,
    ))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(input.limit + 1)
  const page = rows.slice(0, input.limit)
  const attempts = page.length
    ? await ctx.db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, page.map(d => d.id))).orderBy(desc(webhookAttempts.attemptedAt)).limit(1000)
    : []
  const last = page.at(-1)
  return {
    items: page.map(d => deliveryView(ctx, d, attempts.filter(a => a.deliveryId === d.id))),
    nextCursor: rows.length > input.limit && last ? encodeCursor(last) : null,
  }
}

async function deliveryInScope(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const [d] = await ctx.db.select({ d: webhookDeliveries }).from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(and(eq(webhookDeliveries.id, id), inScope(scope))).limit(1)
  if (!d) throw notFound('Delivery')
  return d.d
}

async function deliveryWithAttempts(ctx: ServiceContext, id: string) {
  const [[d], attempts] = await ctx.db.batch([
    ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).limit(1),
    ctx.db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, id)).orderBy(desc(webhookAttempts.attemptedAt)),
  ])
  if (!d) throw notFound('Delivery')
  return deliveryView(ctx, d, attempts)
}

/** "Send test event": a webhook.test message to this endpoint only, attempted at once (the caller waits for the outcome). */
export async function sendTestEvent(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const { ep } = await findInScope(ctx, scope, id)
  if (!ep.enabled) throw new ServiceError('BAD_REQUEST', 'This endpoint is disabled: enable it to send a test event')
  const now = nowOf(ctx)
  const deliveryId = newId('msg')
  const payload = JSON.stringify({ type: TEST_EVENT_TYPE, timestamp: now.toISOString(), data: { endpoint: { id: ep.id, url: redactUrl(ep.url) }, message: 'A test event from License Manager.' } })
  await ctx.db.insert(webhookDeliveries).values({ id: deliveryId, endpointId: ep.id, eventType: TEST_EVENT_TYPE, payload, nextAttemptAt: now, createdAt: now, updatedAt: now })
  const started = Date.now()
  await deliverMessages(ctx, [deliveryId])
  const result = await deliveryWithAttempts(ctx, deliveryId)
  // No HTTP answer: reply only once the full timeout has passed, whatever the cause, so the caller
  // cannot tell a refused connection (at once) from a dropped one (the timeout): no port scanner.
  if (result.lastResponse === NO_ANSWER) await new Promise(resolve => setTimeout(resolve, Math.max(0, timeoutMs(ctx.env) - (Date.now() - started))))
  return result
}

/** Replay: the same message (same webhook-id and body) queued again as due now, with the retry schedule started over. */
export async function replayDelivery(ctx: ServiceContext, scope: WebhookScope, id: string) {
  const d = await deliveryInScope(ctx, scope, id)
  const now = nowOf(ctx)
  await ctx.db.update(webhookDeliveries).set({ status: 'pending', nextAttemptAt: now, retryStep: 0, updatedAt: now }).where(eq(webhookDeliveries.id, d.id))
  deliverAfterCommit(ctx, [{ id: d.id }])
  return { ok: true }
}

/**
 * Key-secret rotation (docs/keys.md): re-encrypt endpoint secrets still under KEY_ENC_SECRET_PREVIOUS
 * with the new KEY_ENC_SECRET (`lm keys rotate` runs it beside the licenses' rewrite). Idempotent.
 */
export async function reencryptWebhookSecrets(ctx: ServiceContext) {
  const current = async (c: string | null) => {
    if (!c) return true
    try {
      await decryptKey(ctx.env.KEY_ENC_SECRET, c)
      return true
    }
    catch {
      return false
    }
  }
  const reencrypt = async (c: string) => encryptKey(ctx.env.KEY_ENC_SECRET, await decryptKey(ctx.env.KEY_ENC_SECRET_PREVIOUS!, c))
  let rewritten = 0
  if (!ctx.env.KEY_ENC_SECRET_PREVIOUS) return { rewritten }
  for (const ep of await ctx.db.select().from(webhookEndpoints)) {
    const changes: Partial<WebhookEndpoint> = {}
    if (!(await current(ep.secretCiphertext))) changes.secretCiphertext = await reencrypt(ep.secretCiphertext)
    if (!(await current(ep.previousSecretCiphertext))) changes.previousSecretCiphertext = await reencrypt(ep.previousSecretCiphertext!)
    if (Object.keys(changes).length) {
      await ctx.db.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, ep.id))
      rewritten++
    }
  }
  return { rewritten }
}
