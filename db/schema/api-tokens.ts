import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import { id } from './columns'
import { users } from './users'

/**
 * Management API tokens (docs/management-api.md). The secret (`lm_` + 40 Crockford symbols) is
 * shown once and stored only as `digest` = HMAC-SHA-256(API_TOKEN_SECRET, secret): authenticating
 * is one indexed read by digest. `hint` is the secret's last 4 symbols, for telling tokens apart.
 * Revoking sets `revokedAt` (the row stays for the admin view and the audit trail).
 */
export const apiTokens = sqliteTable('api_tokens', {
  id: id(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  digest: text('digest').notNull(),
  hint: text('hint').notNull(),
  readOnly: integer('read_only', { mode: 'boolean' }).notNull().default(false),
  /** null = never expires. */
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
  /** Written at most once a minute, after the response. */
  lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
}, t => [
  uniqueIndex('api_tokens_digest_unique').on(t.digest),
  index('api_tokens_user_created_idx').on(t.userId, t.createdAt),
  index('api_tokens_created_idx').on(t.createdAt),
])

export type ApiToken = typeof apiTokens.$inferSelect

/**
 * Idempotency keys of `POST /api/v1/licenses` (kept 24 h). Claimed with a conditional insert
 * before the license is created, so concurrent duplicates create one license. The key itself is
 * stored as an HMAC digest; the stored answer (which holds the new license key) is AES-GCM
 * encrypted with a key derived from API_TOKEN_SECRET.
 */
export const idempotencyKeys = sqliteTable('idempotency_keys', {
  /** Whose key it is: the token owner's user id. */
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  keyDigest: text('key_digest').notNull(),
  /** SHA-256 of the request (method, path, canonical body): same key + other body → 409. */
  requestHash: text('request_hash').notNull(),
  /** The answer once the create finished (null while in flight). */
  status: integer('status'),
  responseCiphertext: text('response_ciphertext'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
}, t => [
  primaryKey({ columns: [t.userId, t.keyDigest] }),
  index('idempotency_keys_expires_idx').on(t.expiresAt),
])
