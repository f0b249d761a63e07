import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { eventGroupSql } from '../../shared/schemas/log'
import { id } from './columns'

/** Who acted: a signed-in user, an API token (by its id), the CLI, the public API, a scheduled job, or nobody signed in. */
export const ACTOR_TYPES = ['user', 'token', 'cli', 'api', 'system', 'anonymous'] as const
export type ActorType = (typeof ACTOR_TYPES)[number]

/**
 * The system log's type group of an event as one SQL expression, generated from LOG_GROUPS
 * (shared/schemas/log.ts, where groups are defined once). It is indexed (events_group_created_id_idx),
 * and queries must use this very expression for SQLite to use that index.
 */
export const EVENT_GROUP_SQL = eventGroupSql()
export const eventGroup = sql.raw(EVENT_GROUP_SQL)

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
  /** The user whose data this event concerns (license owner, login target): drives per-user views. */
  ownerId: text('owner_id'),
  ip: text('ip'),
  userAgent: text('user_agent'),
  country: text('country'),
  /** success | failure | a business code (VALID, NOT_FOUND, …). */
  outcome: text('outcome').notNull(),
  detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>(),
}, t => [
  // Every list is ordered by (created_at desc, id desc) and pages by that key: each index ends in
  // (created_at, id) so a filtered first page is an index range read with no sort.
  index('events_created_id_idx').on(t.createdAt, t.id),
  index('events_type_created_id_idx').on(t.type, t.createdAt, t.id),
  index('events_group_created_id_idx').on(eventGroup, t.createdAt, t.id),
  index('events_subject_created_id_idx').on(t.subjectId, t.createdAt, t.id),
  index('events_owner_created_id_idx').on(t.ownerId, t.createdAt, t.id),
  index('events_actor_created_id_idx').on(t.actorId, t.createdAt, t.id),
  index('events_ip_created_id_idx').on(t.ip, t.createdAt, t.id),
])

export type Event = typeof events.$inferSelect
export type NewEvent = typeof events.$inferInsert
