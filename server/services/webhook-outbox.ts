import { and, sql, type SQL } from 'drizzle-orm'
import type { SQLiteInsertSelectQueryBuilder } from 'drizzle-orm/sqlite-core'
import { webhookDeliveries } from '../../db/schema'
import type { WebhookEventType } from '../../shared/schemas/webhooks'
import { nowOf, type ServiceContext } from './context'
import { eventWritten } from './events'
import { deliverMessages } from './webhook-delivery'

/**
 * The webhook outbox (docs/webhooks.md): statements that go into the SAME db.batch as the change
 * they announce, so a change and its pending deliveries commit together or not at all.
 */

/** Epoch ms column → ISO 8601 with milliseconds, as JSON.stringify(new Date()) writes it. */
const isoOf = (column: string) => sql.raw(`case when ${column} is null then null else strftime('%Y-%m-%dT%H:%M:%fZ', ${column} / 1000.0, 'unixepoch') end`)

/** The license as payloads show it, built from row `l` in SQL: its state inside the batch. Never key material. */
const licenseJson = (ms: number) => sql`json_object(
  'id', l.id, 'label', l.label, 'status', l.status, 'expiresAt', ${isoOf('l.expires_at')}, 'graceEndsAt', ${isoOf('l.grace_ends_at')},
  'maxDevices', l.max_devices,
  'devicesUsed', (select count(*) from devices dv where dv.license_id = l.id and (dv.lease_expires_at is null or dv.lease_expires_at > ${ms})),
  'metadata', json(l.metadata), 'renewalPeriod', l.renewal_period,
  'createdAt', ${isoOf('l.created_at')}, 'updatedAt', ${isoOf('l.updated_at')})`

export interface OutboxEvent {
  type: WebhookEventType
  licenseId: string
  /** More members of `data` beside `license` (device, changes, validation…), as plain JSON values. */
  data?: Record<string, unknown>
  /**
   * Only if this audit event was written earlier in the same batch (recordEventWhere): the
   * webhooks of a conditional change exist exactly when its event does.
   */
  onlyWithEvent?: string
}

/** Which of an owner's endpoints receive `type`: enabled and subscribed (license.validated only explicitly). */
export const subscribedSql = (type: string) => sql`e.enabled = 1 and (
  (e.all_events = 1 and ${type} <> 'license.validated')
  or exists (select 1 from json_each(e.event_types) where json_each.value = ${type}))`

/**
 * INSERT … SELECT one pending delivery per subscribed endpoint of the license's owner. Returns the new
 * message ids (for the first attempt after the commit: deliverAfterCommit).
 */
export function outboxInsert(ctx: ServiceContext, event: OutboxEvent) {
  const now = nowOf(ctx)
  const ms = now.getTime()
  const extra: SQL[] = Object.entries(event.data ?? {}).map(([k, v]) => sql`, ${`$.${k}`}, json(${JSON.stringify(v ?? null)})`)
  const data = extra.length
    ? sql`json_set(json_object('license', ${licenseJson(ms)})${sql.join(extra, sql``)})`
    : sql`json_object('license', ${licenseJson(ms)})`
  // One row per subscribed endpoint, by column name (drizzle checks the names against the table).
  const rows = ctx.db.select({
    id: sql`'msg_' || lower(hex(randomblob(10)))`,
    endpointId: sql`e.id`,
    eventType: sql`${event.type}`,
    payload: sql`json_object('type', ${event.type}, 'timestamp', ${now.toISOString()}, 'data', ${data})`,
    status: sql`'pending'`,
    attempts: sql`0`,
    retryStep: sql`0`,
    nextAttemptAt: sql`${ms}`,
    lastAttemptAt: sql`null`,
    lastStatusCode: sql`null`,
    lastLatencyMs: sql`null`,
    lastResponse: sql`null`,
    createdAt: sql`${ms}`,
    updatedAt: sql`${ms}`,
  }).from(sql`webhook_endpoints e join licenses l on l.id = ${event.licenseId} and e.owner_id = l.owner_id`)
    .where(and(subscribedSql(event.type), event.onlyWithEvent ? eventWritten(event.onlyWithEvent) : undefined))
  return ctx.db.insert(webhookDeliveries).select(rows as unknown as SQLiteInsertSelectQueryBuilder<typeof webhookDeliveries>).returning({ id: webhookDeliveries.id })
}

/** After the batch committed: the first attempt right away (off the response path), unless this door leaves it to the cron. */
export function deliverAfterCommit(ctx: ServiceContext, rows: { id: string }[] | undefined) {
  if (!rows?.length || ctx.webhookDelivery === 'cron') return
  ctx.waitUntil(deliverMessages(ctx, rows.map(r => r.id)))
}
