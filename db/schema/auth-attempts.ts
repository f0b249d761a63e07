import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { id } from './columns'

export const AUTH_ATTEMPT_KINDS = ['login', 'password'] as const
export const AUTH_ATTEMPT_STATES = ['pending', 'failed', 'succeeded'] as const

/**
 * Password checks, for their throttles (server/services/auth-attempts.ts). A row is RESERVED by one
 * conditional INSERT before the password is hashed — the limits are decided by that one statement,
 * so concurrent requests cannot all read the old count — and counts as a failure until its outcome
 * is written (`pending` → `failed` or `succeeded`). The audit log (events) still records every attempt;
 * this table only holds what the limits need, pruned after the longest window (30 days).
 */
export const authAttempts = sqliteTable('auth_attempts', {
  id: id(),
  /** login: a sign-in; password: the current-password check of a password change. */
  kind: text('kind', { enum: AUTH_ATTEMPT_KINDS }).notNull(),
  /** login: the email as entered (trimmed, lower-case); password: the user id. */
  account: text('account').notNull(),
  /** The client's limit key (server/lib/ip.ts ipLimitKey: IPv4 address, IPv6 /64, or "unknown"). */
  ipKey: text('ip_key').notNull(),
  state: text('state', { enum: AUTH_ATTEMPT_STATES }).notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
}, t => [
  index('auth_attempts_account_idx').on(t.kind, t.account, t.createdAt),
  index('auth_attempts_ip_idx').on(t.kind, t.ipKey, t.createdAt),
  index('auth_attempts_created_idx').on(t.createdAt),
])

export type AuthAttempt = typeof authAttempts.$inferSelect
