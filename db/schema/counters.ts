import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/**
 * Installation-wide counters an operator watches (GET /api/v1/health?deep=1, the admin Overview):
 * `events_lost` counts audit events that could not be written after every retry.
 */
export const systemCounters = sqliteTable('system_counters', {
  name: text('name').primaryKey(),
  value: integer('value').notNull().default(0),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
})

export const EVENTS_LOST = 'events_lost'
