import { integer, text } from 'drizzle-orm/sqlite-core'

/** Epoch-millisecond timestamps: exact, sortable and cheap to compare in SQL. */
export const timestamps = {
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
}

export const id = (name = 'id') => text(name).primaryKey()
