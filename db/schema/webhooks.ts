import { relations, sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { id, timestamps } from './columns'
import { users } from './users'

/**
 * A user's webhook endpoint (docs/webhooks.md). The `whsec_` secret is stored AES-GCM encrypted with
 * KEY_ENC_SECRET; during a rotation the previous one still signs until `previousSecretExpiresAt`.
 */
export const webhookEndpoints = sqliteTable('webhook_endpoints', {
  id: id(),
  ownerId: text('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  description: text('description').notNull().default(''),
  /** Every event type except license.validated (which is only sent when listed in eventTypes). */
  allEvents: integer('all_events', { mode: 'boolean' }).notNull().default(true),
  /** Explicitly subscribed types (JSON array); with allEvents, only license.validated matters here. */
  eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull().default([]),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  /** Why it was disabled automatically (e.g. the receiver answered 410 Gone); null when by hand. */
  disabledReason: text('disabled_reason'),
  secretCiphertext: text('secret_ciphertext').notNull(),
  previousSecretCiphertext: text('previous_secret_ciphertext'),
  previousSecretExpiresAt: integer('previous_secret_expires_at', { mode: 'timestamp_ms' }),
  /** Failed attempts in a row (reset by a success): the health badge. */
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  lastSuccessAt: integer('last_success_at', { mode: 'timestamp_ms' }),
  lastFailureAt: integer('last_failure_at', { mode: 'timestamp_ms' }),
  ...timestamps,
}, t => [
  index('webhook_endpoints_owner_created_idx').on(t.ownerId, t.createdAt),
  index('webhook_endpoints_created_idx').on(t.createdAt),
])

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

/**
 * The outbox: one message per (event, endpoint), written in the same db.batch as the change that
 * caused it. Its id (msg_…) is the Standard Webhooks `webhook-id`, the same on every attempt.
 * A pending message is due when next_attempt_at ≤ now; claiming pushes next_attempt_at forward
 * (a lease) before sending, so a crash between send and record leads to a re-send, never a loss.
 */
export const webhookDeliveries = sqliteTable('webhook_deliveries', {
  id: id(),
  endpointId: text('endpoint_id').notNull().references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
  eventType: text('event_type').notNull(),
  /** The exact request body (JSON text), identical on every attempt. */
  payload: text('payload').notNull(),
  status: text('status', { enum: DELIVERY_STATUSES }).notNull().default('pending'),
  /** Attempts made (or claimed) in total. */
  attempts: integer('attempts').notNull().default(0),
  /** Position in the retry schedule; a replay starts it over. */
  retryStep: integer('retry_step').notNull().default(0),
  /** Due time while pending (or the end of the current lease); null once succeeded or failed. */
  nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }),
  lastAttemptAt: integer('last_attempt_at', { mode: 'timestamp_ms' }),
  lastStatusCode: integer('last_status_code'),
  lastLatencyMs: integer('last_latency_ms'),
  /** The start of the last response body (≤ 1 KiB) or the network error. */
  lastResponse: text('last_response'),
  ...timestamps,
}, t => [
  // Due deliveries: pending ones by due time (the only rows with a next_attempt_at).
  index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`"status" = 'pending'`),
  // An endpoint's delivery log, newest first (keyset paging by created_at, id).
  index('webhook_deliveries_endpoint_created_id_idx').on(t.endpointId, t.createdAt, t.id),
  // Retention pruning.
  index('webhook_deliveries_created_idx').on(t.createdAt),
])

/** Every attempt of a delivery: the dashboard's log. */
export const webhookAttempts = sqliteTable('webhook_attempts', {
  id: id(),
  deliveryId: text('delivery_id').notNull().references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
  attemptedAt: integer('attempted_at', { mode: 'timestamp_ms' }).notNull(),
  statusCode: integer('status_code'),
  latencyMs: integer('latency_ms'),
  /** Start of the response body (≤ 1 KiB) or the network error / timeout. */
  response: text('response'),
  succeeded: integer('succeeded', { mode: 'boolean' }).notNull(),
}, t => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attemptedAt)])

export const webhookEndpointsRelations = relations(webhookEndpoints, ({ one, many }) => ({
  owner: one(users, { fields: [webhookEndpoints.ownerId], references: [users.id] }),
  deliveries: many(webhookDeliveries),
}))

export const webhookDeliveriesRelations = relations(webhookDeliveries, ({ one, many }) => ({
  endpoint: one(webhookEndpoints, { fields: [webhookDeliveries.endpointId], references: [webhookEndpoints.id] }),
  attempts: many(webhookAttempts),
}))

export const webhookAttemptsRelations = relations(webhookAttempts, ({ one }) => ({
  delivery: one(webhookDeliveries, { fields: [webhookAttempts.deliveryId], references: [webhookDeliveries.id] }),
}))

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect
