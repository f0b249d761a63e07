import { and, eq, sql, type SQL } from 'drizzle-orm'
import { webhookDeliveries, webhookEndpoints, type WebhookEndpoint } from '../../db/schema'
import type { ServiceContext } from './context'
import { UNHEALTHY_AFTER } from './webhook-delivery'

/**
 * An endpoint's health, from its last attempts (docs/webhooks.md "Health"):
 * - new: nothing attempted yet
 * - healthy: the last attempt succeeded
 * - retrying: the last attempt failed (fewer than UNHEALTHY_AFTER in a row) and a retry is scheduled
 * - failing: the last attempt failed and it keeps failing (UNHEALTHY_AFTER or more in a row), or nothing is left to retry
 * - disabled: switched off (by hand, or by a 410 Gone)
 */
export const WEBHOOK_HEALTH = ['new', 'healthy', 'retrying', 'failing', 'disabled'] as const
export type WebhookHealth = (typeof WEBHOOK_HEALTH)[number]

/** The soonest pending retry of an endpoint: when (null = due now, sent by the next cron run) and which retry of how many. */
export interface NextRetry { at: Date | null, retry: number, of: number }

export interface HealthView {
  health: WebhookHealth
  /** The newest attempt, successful or not. */
  lastAttemptAt: Date | null
  /** Only while a delivery waits for its next attempt (and the endpoint is enabled). */
  nextRetry: NextRetry | null
}

/** A pending delivery's retry state, as stored. */
export interface PendingDelivery { nextAttemptAt: Date | null, retryStep: number }

type EndpointHealthFields = Pick<WebhookEndpoint, 'enabled' | 'consecutiveFailures' | 'lastSuccessAt' | 'lastFailureAt'>

/** Pure: the health of an endpoint given its counters and its soonest pending delivery. Never a time in the past. */
export function webhookHealth(ep: EndpointHealthFields, pending: PendingDelivery | null, scheduleLength: number, now: Date): HealthView {
  const success = ep.lastSuccessAt?.getTime() ?? null
  const failure = ep.lastFailureAt?.getTime() ?? null
  const lastAttemptAt = success === null && failure === null ? null : new Date(Math.max(success ?? 0, failure ?? 0))
  const nextRetry = ep.enabled && pending
    ? {
        at: pending.nextAttemptAt && pending.nextAttemptAt.getTime() > now.getTime() ? pending.nextAttemptAt : null,
        retry: Math.min(Math.max(pending.retryStep, 1), scheduleLength),
        of: scheduleLength,
      }
    : null
  let health: WebhookHealth
  if (!ep.enabled) health = 'disabled'
  else if (lastAttemptAt === null) health = 'new'
  else if (failure === null || (success !== null && success >= failure)) health = 'healthy'
  else if (nextRetry && ep.consecutiveFailures < UNHEALTHY_AFTER) health = 'retrying'
  else health = 'failing'
  return { health, lastAttemptAt, nextRetry }
}

/**
 * The soonest pending delivery of each endpoint matching `endpointsWhere` (one grouped read over the
 * pending deliveries; SQLite returns the bare retry_step of the row holding the min()). Only
 * deliveries that already failed once count: a first attempt in flight is not a retry.
 */
export async function pendingRetries(ctx: ServiceContext, endpointsWhere: SQL | undefined): Promise<Map<string, PendingDelivery>> {
  const rows = await ctx.db.select({
    endpointId: webhookDeliveries.endpointId,
    nextAttemptAt: sql<number>`min(${webhookDeliveries.nextAttemptAt})`,
    retryStep: webhookDeliveries.retryStep,
  }).from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(and(eq(webhookDeliveries.status, 'pending'), sql`${webhookDeliveries.retryStep} > 0`, endpointsWhere))
    .groupBy(webhookDeliveries.endpointId)
  return new Map(rows.map(r => [r.endpointId, { nextAttemptAt: r.nextAttemptAt === null ? null : new Date(Number(r.nextAttemptAt)), retryStep: Number(r.retryStep) }]))
}
