import { and, count, eq, gt } from 'drizzle-orm'
import { events, users } from '../../db/schema'
import { dummyPasswordHash, hashPassword, needsRehash, verifyPassword } from '../lib/passwords'
import { nowOf, type ServiceContext } from './context'
import { ServiceError } from './errors'
import { recordEvent } from './events'
import { createSession } from './sessions'

/**
 * Login throttling (ASVS V2.2.1). Failures are counted from the audit log, so every attempt is
 * recorded once and the counters need no table of their own:
 *  - per account, from IPs that never signed in to it: ≤ 100 failures per rolling hour;
 *  - per account and IP: ≤ 10 failures per 15 minutes;
 *  - per IP, whatever the account: ≤ 50 failures per 15 minutes.
 * An IP that signed in to the account successfully in the last 30 days is exempt from the per-account
 * cap, so a stranger hammering an account cannot lock its owner out at their usual place, and every
 * lock lifts by itself when its window passes.
 */
export const LOGIN_LIMITS = {
  accountPerHour: 100,
  pairPer15Min: 10,
  ipPer15Min: 50,
  trustedIpDays: 30,
} as const

const FAILED = 'auth.login.failed'
const SUCCEEDED = 'auth.login.succeeded'

export async function loginThrottled(ctx: ServiceContext, email: string): Promise<boolean> {
  const now = nowOf(ctx).getTime()
  const hourAgo = new Date(now - 3_600_000)
  const quarterAgo = new Date(now - 900_000)
  const ip = ctx.audit.ip
  const failures = (where: ReturnType<typeof and>) => ctx.db.select({ n: count() }).from(events).where(where)
  const [account, pair, byIp, trusted] = await ctx.db.batch([
    failures(and(eq(events.subjectId, email), eq(events.type, FAILED), gt(events.createdAt, hourAgo))),
    failures(and(eq(events.subjectId, email), eq(events.ip, ip), eq(events.type, FAILED), gt(events.createdAt, quarterAgo))),
    failures(and(eq(events.ip, ip), eq(events.type, FAILED), gt(events.createdAt, quarterAgo))),
    ctx.db.select({ n: count() }).from(events).where(and(
      eq(events.subjectId, email), eq(events.ip, ip), eq(events.type, SUCCEEDED),
      gt(events.createdAt, new Date(now - LOGIN_LIMITS.trustedIpDays * 86_400_000)),
    )),
  ])
  const n = (rows: { n: number }[]) => rows[0]?.n ?? 0
  if (n(pair) >= LOGIN_LIMITS.pairPer15Min) return true
  if (ip && n(byIp) >= LOGIN_LIMITS.ipPer15Min) return true
  return n(account) >= LOGIN_LIMITS.accountPerHour && n(trusted) === 0
}

const INVALID = 'Invalid email or password'

/** Check credentials and open a session. Errors never say whether the account exists. */
export async function login(ctx: ServiceContext, email: string, password: string) {
  const attempt = { subjectType: 'account', subjectId: email }
  if (await loginThrottled(ctx, email)) {
    await recordEvent(ctx, { ...attempt, type: 'auth.login.throttled', outcome: 'failure' })
    throw new ServiceError('TOO_MANY_REQUESTS', 'Too many failed sign-in attempts. Try again in a few minutes.', undefined, 900)
  }
  const [user] = await ctx.db.select().from(users).where(eq(users.email, email)).limit(1)
  // Unknown accounts cost the same scrypt work as known ones: no enumeration by timing.
  const ok = await verifyPassword(password, user?.passwordHash ?? await dummyPasswordHash())
  if (!user || !ok) {
    await recordEvent(ctx, { ...attempt, ownerId: user?.id, type: FAILED, outcome: 'failure', detail: { reason: 'bad-credentials' } })
    throw new ServiceError('UNAUTHORIZED', INVALID)
  }
  if (user.disabled) {
    await recordEvent(ctx, { ...attempt, ownerId: user.id, type: FAILED, outcome: 'failure', detail: { reason: 'disabled' } })
    throw new ServiceError('FORBIDDEN', 'This account is disabled. Ask your administrator.')
  }
  const asUser: ServiceContext = { ...ctx, actor: { type: 'user', id: user.id } }
  const session = await createSession(asUser, user.id)
  const now = nowOf(ctx)
  await ctx.db.batch([
    session.insert,
    ctx.db.update(users).set({
      lastLoginAt: now,
      // Raise the hash to the current cost on the way in (parameters are stored with it).
      ...(needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(password) } : {}),
    }).where(eq(users.id, user.id)),
    recordEvent(asUser, { ...attempt, ownerId: user.id, type: SUCCEEDED, outcome: 'success', detail: { sessionId: session.row.id } }),
  ])
  return {
    token: session.token,
    expiresAt: session.row.expiresAt,
    user: { id: user.id, email: user.email, name: user.name, role: user.role },
  }
}
