import { relations, sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from 'drizzle-orm/sqlite-core'
import { id, timestamps } from './columns'
import { sessions } from './sessions'

export const USER_ROLES = ['admin', 'user'] as const
export type UserRole = (typeof USER_ROLES)[number]

/** The users list's sort key besides email (docs/ui.md, "Sorting"): "never signed in" sorts as the oldest sign-in. */
export const userSortKeys = (t: { lastLoginAt: AnySQLiteColumn }) => ({
  lastLoginAt: sql`(case when ${t.lastLoginAt} is null then 0 else ${t.lastLoginAt} end)`,
})

export const users = sqliteTable('users', {
  id: id(),
  /** Stored lower-cased and trimmed: unique and case-insensitive. */
  email: text('email').notNull(),
  name: text('name').notNull().default(''),
  role: text('role', { enum: USER_ROLES }).notNull().default('user'),
  /** PHC-style scrypt string: $scrypt$ln=14,r=8,p=5$salt$hash */
  passwordHash: text('password_hash').notNull(),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  /** Public API calls per minute for this user's licenses; null = installation default. */
  verifyLimitPerMinute: integer('verify_limit_per_minute'),
  passwordChangedAt: integer('password_changed_at', { mode: 'timestamp_ms' }),
  lastLoginAt: integer('last_login_at', { mode: 'timestamp_ms' }),
  ...timestamps,
}, t => [
  uniqueIndex('users_email_unique').on(t.email),
  index('users_last_login_sort_idx').on(userSortKeys(t).lastLoginAt, t.id),
])

export const usersRelations = relations(users, ({ many }) => ({
  sessions: many(sessions),
}))

export type User = typeof users.$inferSelect
export type NewUser = typeof users.$inferInsert
