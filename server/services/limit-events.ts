import { and, eq, exists, isNull, lte, or, sql } from 'drizzle-orm'
import { activations, licenses } from '../../db/schema'
import type { AppEnv } from '../env'
import { nowOf, type ServiceContext } from './context'
import { recordEventWhere } from './events'
import { deliverAfterCommit, outboxInsert } from './webhook-outbox'

/**
 * The license policies' limit events (docs/policies.md), written after the response that noticed
 * them, each at most once per interval per license: a conditional UPDATE of the license's marker
 * column decides, the event is written on that UPDATE's own condition and the webhook outbox rows
 * only with the event — one batch, so concurrent calls announce once.
 */
const HOUR = 3_600_000
const DAY = 24 * HOUR
export const DEVICE_LIMIT_EVENT_INTERVAL_MS = HOUR
export const ANOMALY_EVENT_INTERVAL_MS = DAY
/** license.anomaly: more distinct IPs than this within ANOMALY_WINDOW_MS (ANOMALY_DISTINCT_IPS, default 20). */
export const ANOMALY_WINDOW_MS = DAY

export function anomalyDistinctIps(env: Pick<AppEnv, 'ANOMALY_DISTINCT_IPS'>): number {
  const n = Number(env.ANOMALY_DISTINCT_IPS)
  return Number.isInteger(n) && n > 0 ? n : 20
}

async function announceOnce(ctx: ServiceContext, l: { id: string, ownerId: string }, type: 'license.device_limit_reached' | 'license.anomaly',
  marker: typeof licenses.deviceLimitReachedAt | typeof licenses.anomalyAt, intervalMs: number, set: Partial<typeof licenses.$inferInsert>, detail: Record<string, unknown>, data: Record<string, unknown>) {
  const now = nowOf(ctx)
  const target = and(eq(licenses.id, l.id), or(isNull(marker), lte(marker, new Date(now.getTime() - intervalMs))))
  const event = recordEventWhere(ctx, { type, outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail },
    exists(ctx.db.select({ one: sql`1` }).from(licenses).where(target)))
  const [, , outbox] = await ctx.db.batch([
    event.insert,
    ctx.db.update(licenses).set(set).where(target),
    outboxInsert(ctx, { type, licenseId: l.id, data, onlyWithEvent: event.id }),
  ])
  deliverAfterCommit(ctx, outbox)
}

/** An activation was refused for seats: license.device_limit_reached, at most once an hour per license (after the response). */
export function recordDeviceLimitReached(ctx: ServiceContext, l: { id: string, ownerId: string, maxDevices: number | null, used: number }) {
  const now = nowOf(ctx)
  const limit = { maxDevices: l.maxDevices, devicesUsed: l.used }
  ctx.waitUntil(announceOnce(ctx, l, 'license.device_limit_reached', licenses.deviceLimitReachedAt, DEVICE_LIMIT_EVENT_INTERVAL_MS, { deviceLimitReachedAt: now }, limit, { limit }))
}

/** The rate limiter saw one key used from more than ANOMALY_DISTINCT_IPS distinct IPs in 24 h: license.anomaly, at most once a day. */
export async function recordAnomaly(ctx: ServiceContext, a: { licenseId: string, ownerId: string, distinctIps: number }) {
  const now = nowOf(ctx)
  const anomaly = { distinctIps: a.distinctIps, windowHours: ANOMALY_WINDOW_MS / HOUR, threshold: anomalyDistinctIps(ctx.env) }
  await announceOnce(ctx, { id: a.licenseId, ownerId: a.ownerId }, 'license.anomaly', licenses.anomalyAt, ANOMALY_EVENT_INTERVAL_MS, { anomalyAt: now, anomalyIps: a.distinctIps }, anomaly, { anomaly })
}

/** The churn limit's longest period is 1 year: activation records older than this are never counted. */
export const ACTIVATION_HISTORY_DAYS = 400

/** Drop activation records no churn limit can count any more (the maintenance cron); bounded per run. */
export async function pruneActivations(ctx: ServiceContext, batchSize = 1000) {
  const before = new Date(nowOf(ctx).getTime() - ACTIVATION_HISTORY_DAYS * DAY)
  const gone = await ctx.db.delete(activations)
    .where(sql`${activations.id} in (select id from activations where created_at < ${before.getTime()} limit ${batchSize})`)
    .returning({ id: activations.id })
  return gone.length
}
