import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { id } from './columns'

export const ACTOR_TYPES = ['user', 'cli', 'api', 'system', 'anonymous'] as const
export type ActorType = (typeof ACTOR_TYPES)[number]

/**
 * The audit log. Never a password, a full key, a token or a secret — detail is a small JSON object
 * built by the service that records the event.
 */
export const events = sqliteTable('events', {
  id: id(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  /** Dotted type, e.g. auth.login.failed, user.created. */
  type: text('type').notNull(),
  actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
  actorId: text('actor_id'),
  subjectType: text('subject_type'),
  subjectId: text('subject_id'),
  /** The user whose data this event concerns (licence owner, login target): drives per-user views. */
  ownerId: text('owner_id'),
  ip: text('ip'),
  userAgent: text('user_agent'),
  country: text('country'),
  /** success | failure | a business code (VALID, NOT_FOUND, …). */
  outcome: text('outcome').notNull(),
  detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>(),
}, t => [
  index('events_created_idx').on(t.createdAt),
  index('events_type_created_idx').on(t.type, t.createdAt),
  index('events_subject_created_idx').on(t.subjectId, t.createdAt),
  index('events_owner_created_idx').on(t.ownerId, t.createdAt),
  index('events_ip_created_idx').on(t.ip, t.createdAt),
])

export type Event = typeof events.$inferSelect
export type NewEvent = typeof events.$inferInsert
