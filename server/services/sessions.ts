import { and, desc, eq, exists, gt, inArray, lt, ne, or, sql } from 'drizzle-orm'
import { jwtVerify, SignJWT } from 'jose'
import { sessions, users } from '../../db/schema'
import { sessionSettings } from '../env'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { notFound } from './errors'
import { recordEventWhere } from './events'

/** Re-write last_seen_at at most once a minute: idle timeouts need no finer grain. */
const TOUCH_INTERVAL_MS = 60_000
const ISSUER = 'license-manager'

export interface SessionUser {
  id: string
  email: string
  name: string
  role: 'admin' | 'user'
}
export interface ActiveSession { id: string, user: SessionUser, expiresAt: Date }

function secretKey(ctx: ServiceContext): Uint8Array {
  const secret = ctx.env.SESSION_SECRET
  if (!secret || secret.length < 32) throw new Error('SESSION_SECRET is missing or shorter than 32 characters')
  return new TextEncoder().encode(secret)
}

/** Start a session: a row, and a signed token naming it for the cookie. */
export async function createSession(ctx: ServiceContext, userId: string) {
  const now = nowOf(ctx)
  const { absoluteMs } = sessionSettings(ctx.env)
  const row = {
    id: newId('ses'),
    userId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + absoluteMs),
    ip: ctx.audit.ip.slice(0, 64),
    userAgent: ctx.audit.userAgent.slice(0, 512),
  }
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(row.id)
    .setIssuer(ISSUER)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(Math.floor(row.expiresAt.getTime() / 1000))
    .sign(secretKey(ctx))
  return { row, token, insert: ctx.db.insert(sessions).values(row) }
}

/**
 * Resolve a cookie token to a live session, checking the row on every request: a deleted row
 * (logout, password change, user disabled, admin "end sessions") or an idle/absolute expiry ends it.
 */
export async function resolveSession(ctx: ServiceContext, token: string | undefined): Promise<ActiveSession | null> {
  if (!token || token.length > 1024) return null
  let sessionId: string | undefined
  try {
    const { payload } = await jwtVerify(token, secretKey(ctx), { issuer: ISSUER, algorithms: ['HS256'] })
    sessionId = payload.sub
  }
  catch {
    return null
  }
  if (!sessionId) return null
  const now = nowOf(ctx)
  const { idleMs } = sessionSettings(ctx.env)
  const [row] = await ctx.db
    .select({
      id: sessions.id,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      user: { id: users.id, email: users.email, name: users.name, role: users.role },
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(
      eq(sessions.id, sessionId),
      gt(sessions.expiresAt, now),
      gt(sessions.lastSeenAt, new Date(now.getTime() - idleMs)),
      eq(users.disabled, false),
    ))
    .limit(1)
  if (!row) return null
  if (now.getTime() - row.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
    ctx.waitUntil(ctx.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, row.id)).run())
  }
  return { id: row.id, user: row.user, expiresAt: row.expiresAt }
}

export async function listUserSessions(ctx: ServiceContext, userId: string) {
  const now = nowOf(ctx)
  const { idleMs } = sessionSettings(ctx.env)
  return await ctx.db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, now), gt(sessions.lastSeenAt, new Date(now.getTime() - idleMs))))
    .orderBy(desc(sessions.lastSeenAt))
    .limit(100)
}

/**
 * End one of the user's own sessions (ownership in the WHERE clause). The event is written on the
 * delete's own condition: another user's session id ends nothing and leaves no event (NOT_FOUND).
 */
export async function endOwnSession(ctx: ServiceContext, userId: string, sessionId: string, reason: 'logout' | 'revoked') {
  const own = and(eq(sessions.id, sessionId), eq(sessions.userId, userId))
  const event = recordEventWhere(ctx, {
    type: reason === 'logout' ? 'auth.logout' : 'session.ended',
    outcome: 'success',
    subjectType: 'session',
    subjectId: sessionId,
    ownerId: userId,
    detail: { reason },
  }, exists(ctx.db.select({ one: sql`1` }).from(sessions).where(own)))
  const [, deleted] = await ctx.db.batch([event.insert, ctx.db.delete(sessions).where(own).returning({ id: sessions.id })])
  if (deleted.length === 0) throw notFound('Session')
}

/** Statement ending all of a user's sessions, optionally keeping one (for use inside a batch). */
export function deleteUserSessions(ctx: ServiceContext, userId: string, keepSessionId?: string) {
  return ctx.db.delete(sessions).where(keepSessionId
    ? and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId))
    : eq(sessions.userId, userId)).returning({ id: sessions.id })
}

export async function endOtherSessions(ctx: ServiceContext, userId: string, keepSessionId: string) {
  const others = and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId))
  const event = recordEventWhere(ctx, { type: 'session.ended', outcome: 'success', subjectType: 'user', subjectId: userId, ownerId: userId, detail: { reason: 'revoked-others' } },
    exists(ctx.db.select({ one: sql`1` }).from(sessions).where(others)))
  const [, deleted] = await ctx.db.batch([event.insert, deleteUserSessions(ctx, userId, keepSessionId)])
  return { ended: deleted.length }
}

/** Delete expired sessions (scheduled job), in bounded batches so one run never holds D1 for long. */
export async function pruneExpiredSessions(ctx: ServiceContext, batchSize = 500, maxBatches = 20): Promise<number> {
  const now = nowOf(ctx)
  const { idleMs } = sessionSettings(ctx.env)
  const expired = or(lt(sessions.expiresAt, now), lt(sessions.lastSeenAt, new Date(now.getTime() - idleMs)))
  let total = 0
  for (let i = 0; i < maxBatches; i++) {
    const batch = ctx.db.select({ id: sessions.id }).from(sessions).where(expired).limit(batchSize)
    const deleted = await ctx.db.delete(sessions).where(inArray(sessions.id, batch)).returning({ id: sessions.id })
    total += deleted.length
    if (deleted.length < batchSize) break
  }
  return total
}
