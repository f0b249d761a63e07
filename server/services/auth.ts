import { eq } from 'drizzle-orm'
import { users } from '../../db/schema'
import { dummyPasswordHash, hashPassword, needsRehash, verifyPassword } from '../lib/passwords'
import { newAttempt, reserveLoginAttempt, settleAttempt, THROTTLE_RETRY_SECONDS, withPasswordCheckSlot } from './auth-attempts'
import { nowOf, type ServiceContext } from './context'
import { ServiceError } from './errors'
import { recordEvent } from './events'
import { createSession } from './sessions'

export { LOGIN_LIMITS } from './auth-attempts'

const FAILED = 'auth.login.failed'
const SUCCEEDED = 'auth.login.succeeded'
const INVALID = 'Invalid email or password'

/**
 * Check credentials and open a session. Errors never say whether the account exists. The attempt
 * is reserved against the throttles (server/services/auth-attempts.ts) before any hashing, in one
 * of the isolate's password-check slots.
 */
export async function login(ctx: ServiceContext, email: string, password: string) {
  return await withPasswordCheckSlot(async () => {
    const subject = { subjectType: 'account', subjectId: email }
    const attempt = newAttempt(ctx, 'login', email)
    // The reservation and the account, in one round trip.
    const [reserved, [user]] = await ctx.db.batch([
      reserveLoginAttempt(ctx, attempt),
      ctx.db.select().from(users).where(eq(users.email, email)).limit(1),
    ])
    if (reserved.length === 0) {
      await recordEvent(ctx, { ...subject, ownerId: user?.id, type: 'auth.login.throttled', outcome: 'failure' })
      throw new ServiceError('TOO_MANY_REQUESTS', 'Too many failed sign-in attempts. Try again in a few minutes.', undefined, THROTTLE_RETRY_SECONDS)
    }
    // Unknown accounts cost the same scrypt work as known ones: no enumeration by timing.
    const ok = await verifyPassword(password, user?.passwordHash ?? await dummyPasswordHash())
    if (!user || !ok || user.disabled) {
      await ctx.db.batch([
        settleAttempt(ctx, attempt, 'failed'),
        recordEvent(ctx, { ...subject, ownerId: user?.id, type: FAILED, outcome: 'failure', detail: { reason: user && ok ? 'disabled' : 'bad-credentials' } }),
      ])
      if (user && ok) throw new ServiceError('FORBIDDEN', 'This account is disabled. Ask your administrator.')
      throw new ServiceError('UNAUTHORIZED', INVALID)
    }
    const asUser: ServiceContext = { ...ctx, actor: { type: 'user', id: user.id } }
    const session = await createSession(asUser, user.id)
    await ctx.db.batch([
      session.insert,
      ctx.db.update(users).set({
        lastLoginAt: nowOf(ctx),
        // Raise the hash to the current cost on the way in (parameters are stored with it).
        ...(needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(password) } : {}),
      }).where(eq(users.id, user.id)),
      settleAttempt(ctx, attempt, 'succeeded'),
      recordEvent(asUser, { ...subject, ownerId: user.id, type: SUCCEEDED, outcome: 'success', detail: { sessionId: session.row.id } }),
    ])
    return {
      token: session.token,
      expiresAt: session.row.expiresAt,
      user: { id: user.id, email: user.email, name: user.name, role: user.role },
    }
  })
}
