import { and, desc, eq, isNull, lte, or, sql } from 'drizzle-orm'
import type { z } from 'zod'
import { apiTokens, users, type ApiToken, type UserRole } from '../../db/schema'
import { API_TOKEN_RE, type createApiTokenSchema, type listApiTokensSchema } from '../../shared/schemas/api-tokens'
import type { DB } from '../../db/client'
import type { AppEnv } from '../env'
import { addDuration, parseDuration } from '../lib/duration'
import { keyDigest } from '../lib/keys'
import { newId, randomBytes, toCrockford } from '../lib/random'
import { ownedBy, tokenPrincipal, type OwnerScope, type Principal } from './authz'
import { nowOf, type ServiceContext } from './context'
import { notFound, ServiceError } from './errors'
import { recordEvent, recordEventWhere } from './events'

/**
 * API tokens (docs/management-api.md): `lm_` + 40 CSPRNG Crockford symbols (200 bits), shown once,
 * stored only as HMAC-SHA-256(API_TOKEN_SECRET, secret). A token acts with its owner's rights
 * (server/services/authz.ts tokenPrincipal); a revoked or expired token, or one whose owner is
 * disabled, is refused.
 */

const TOKEN_SYMBOLS = 40
/** Last-used is written at most once per this interval per token (after the response). */
export const LAST_USED_INTERVAL_MS = 60_000
const HINT_LENGTH = 4

export function generateApiToken(): string {
  // 25 bytes = 200 bits = exactly 40 Crockford symbols.
  return `lm_${toCrockford(randomBytes(25)).slice(0, TOKEN_SYMBOLS)}`
}

function tokenSecret(env: Pick<AppEnv, 'API_TOKEN_SECRET'>): string {
  const s = env.API_TOKEN_SECRET
  if (!s || s.length < 32) throw new ServiceError('BAD_REQUEST', 'API_TOKEN_SECRET is not set (npm start adds it to .dev.vars; in production: wrangler secret put API_TOKEN_SECRET)')
  return s
}

export const apiTokenDigest = (env: Pick<AppEnv, 'API_TOKEN_SECRET'>, secret: string) => keyDigest(tokenSecret(env), secret)
export const maskedTokenOf = (hint: string) => `lm_••••••••${hint}`

export type ApiTokenStatus = 'active' | 'expired' | 'revoked'
export type ApiTokenView = ReturnType<typeof apiTokenView>

export function apiTokenView(t: ApiToken, extra: { ownerEmail?: string | null }, now: Date) {
  const status: ApiTokenStatus = t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active'
  return {
    id: t.id,
    ownerId: t.userId,
    ownerEmail: extra.ownerEmail ?? null,
    name: t.name,
    maskedToken: maskedTokenOf(t.hint),
    readOnly: t.readOnly,
    status,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    createdAt: t.createdAt,
  }
}

function tokenEvent(type: string, t: Pick<ApiToken, 'id' | 'userId'>, detail?: Record<string, unknown>) {
  return { type, outcome: 'success', subjectType: 'api_token', subjectId: t.id, ownerId: t.userId, detail }
}

/** Create a token for `ownerId` (checked by the door with authz.ts ownerForCreate). The secret is in this answer only. */
export async function createApiToken(ctx: ServiceContext, ownerId: string, input: z.output<typeof createApiTokenSchema>) {
  const [owner] = await ctx.db.select({ id: users.id, email: users.email, disabled: users.disabled }).from(users).where(eq(users.id, ownerId)).limit(1)
  if (!owner) throw new ServiceError('BAD_REQUEST', 'No such owner', { ownerId: ['No such user'] })
  if (owner.disabled) throw new ServiceError('BAD_REQUEST', 'This user is disabled: their tokens would be refused', { ownerId: ['This user is disabled'] })
  const now = nowOf(ctx)
  const secret = generateApiToken()
  const row: ApiToken = {
    id: newId('tok'),
    userId: ownerId,
    name: input.name,
    digest: await apiTokenDigest(ctx.env, secret),
    hint: secret.slice(-HINT_LENGTH),
    readOnly: input.readOnly,
    expiresAt: input.expiresIn ? addDuration(now, parseDuration(input.expiresIn)!) : null,
    lastUsedAt: null,
    revokedAt: null,
    createdAt: now,
  }
  await ctx.db.batch([
    ctx.db.insert(apiTokens).values(row),
    // The token by its id and name, never its secret.
    recordEvent(ctx, tokenEvent('api_token.created', row, { name: row.name, readOnly: row.readOnly, expiresAt: row.expiresAt?.toISOString() ?? null })),
  ])
  return { token: secret, apiToken: apiTokenView(row, { ownerEmail: owner.email }, now) }
}

/** Tokens in the scope, newest first (at most 500): a user's own, or (admins) everyone's. */
export async function listApiTokens(ctx: ServiceContext, scope: OwnerScope, input: z.output<typeof listApiTokensSchema>) {
  const now = nowOf(ctx)
  const rows = await ctx.db.select({ token: apiTokens, ownerEmail: users.email }).from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(
      ownedBy(scope, apiTokens.userId),
      input.ownerId ? eq(apiTokens.userId, input.ownerId) : undefined,
      input.includeRevoked ? undefined : isNull(apiTokens.revokedAt),
    ))
    .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id))
    .limit(500)
  return rows.map(r => apiTokenView(r.token, r, now))
}

/** Revoke a token in the scope (its owner's, or any for an admin). Revoking a revoked token changes nothing. */
export async function revokeApiToken(ctx: ServiceContext, scope: OwnerScope, id: string) {
  const [row] = await ctx.db.select({ token: apiTokens, ownerEmail: users.email }).from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.id, id), ownedBy(scope, apiTokens.userId))).limit(1)
  if (!row) throw notFound('API token')
  const now = nowOf(ctx)
  if (row.token.revokedAt) return apiTokenView(row.token, row, now)
  const target = and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))
  const event = recordEventWhere(ctx, tokenEvent('api_token.revoked', row.token, { name: row.token.name }),
    sql`exists (select 1 from api_tokens t where t.id = ${id} and t.revoked_at is null)`)
  const [, updated] = await ctx.db.batch([
    event.insert,
    ctx.db.update(apiTokens).set({ revokedAt: now }).where(target).returning(),
  ])
  return apiTokenView(updated[0] ?? { ...row.token, revokedAt: now }, row, now)
}

export type TokenRefusal = 'MISSING' | 'MALFORMED' | 'UNKNOWN' | 'REVOKED' | 'EXPIRED' | 'OWNER_DISABLED'
export class TokenError extends Error {
  constructor(public readonly reason: TokenRefusal, message: string) {
    super(message)
  }
}

const REFUSAL_MESSAGES: Record<TokenRefusal, string> = {
  MISSING: 'Send an API token: Authorization: Bearer lm_…',
  MALFORMED: 'Authorization must be "Bearer lm_…" with an API token',
  UNKNOWN: 'Unknown API token',
  REVOKED: 'This API token was revoked',
  EXPIRED: 'This API token has expired',
  OWNER_DISABLED: 'The owner of this API token is disabled',
}
const refuse = (r: TokenRefusal) => new TokenError(r, REFUSAL_MESSAGES[r])

/**
 * The principal of an `Authorization: Bearer lm_…` header: one indexed read (by digest, joined to
 * its owner for role and disabled flag). Last-used is written after the response, at most once a
 * minute (conditional update, so concurrent isolates write it once too).
 */
export async function authenticateApiToken(
  db: DB, env: AppEnv, authorization: string | null, waitUntil: (p: Promise<unknown>) => void, now = new Date(),
): Promise<Principal & { kind: 'token' }> {
  if (!authorization) throw refuse('MISSING')
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
  if (!m || !API_TOKEN_RE.test(m[1]!)) throw refuse('MALFORMED')
  const digest = await apiTokenDigest(env, m[1]!)
  const [row] = await db.select({
    id: apiTokens.id, userId: apiTokens.userId, readOnly: apiTokens.readOnly, expiresAt: apiTokens.expiresAt,
    revokedAt: apiTokens.revokedAt, lastUsedAt: apiTokens.lastUsedAt, role: users.role, disabled: users.disabled,
  }).from(apiTokens).innerJoin(users, eq(users.id, apiTokens.userId)).where(eq(apiTokens.digest, digest)).limit(1)
  if (!row) throw refuse('UNKNOWN')
  if (row.revokedAt) throw refuse('REVOKED')
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) throw refuse('EXPIRED')
  if (row.disabled) throw refuse('OWNER_DISABLED')
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_INTERVAL_MS) {
    const stale = new Date(now.getTime() - LAST_USED_INTERVAL_MS)
    waitUntil(db.update(apiTokens).set({ lastUsedAt: now })
      .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lte(apiTokens.lastUsedAt, stale)))).run())
  }
  return tokenPrincipal({ id: row.id, userId: row.userId, role: row.role as UserRole, readOnly: row.readOnly }) as Principal & { kind: 'token' }
}
