import { and, eq, inArray, lt, ne, sql, type SQL } from 'drizzle-orm'
import { authAttempts, type AuthAttempt } from '../../db/schema'
import { insertRowWhere } from '../lib/insert-where'
import { ipLimitKey } from '../lib/ip'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { ServiceError } from './errors'

/**
 * Password guessing, bounded under concurrency (docs/rate-limits.md, "Sign-in and password checks").
 * Every password check first RESERVES an attempt: one conditional INSERT whose WHERE clause counts
 * the recent attempts, so the limit is decided inside one statement and parallel requests (or a
 * tRPC batch) cannot all read the same old count. Only a reserved attempt is hashed. A reserved
 * attempt counts as a failure until its outcome is written; a success stops counting.
 *
 * Sign-in (ASVS V2.2.1):
 *  - per account and client: ≤ 10 failures per 15 minutes;
 *  - per client, whatever the account: ≤ 50 failures per 15 minutes;
 *  - per account from clients that never signed in to it: ≤ 100 failures per rolling hour. A client
 *    that signed in to the account in the last 30 days is exempt from this cap, so a stranger
 *    hammering an account cannot lock its owner out at their usual place.
 * Current password of a password change: ≤ 10 failures per account per 15 minutes.
 * "Client" is the IP's limit key: the IPv4 address or the IPv6 /64; no readable IP is one shared bucket.
 */
export const LOGIN_LIMITS = {
  accountPerHour: 100,
  pairPer15Min: 10,
  ipPer15Min: 50,
  trustedIpDays: 30,
} as const

export const PASSWORD_CHECK_LIMITS = { accountPer15Min: 10 } as const

const QUARTER = 15 * 60_000
const HOUR = 60 * 60_000
const DAY = 24 * HOUR
/** Rows older than this serve no window (the trusted-client look-back is the longest). */
export const ATTEMPT_RETENTION_MS = LOGIN_LIMITS.trustedIpDays * DAY

/** Seconds a client is told to wait when a throttle refuses it: the longest window it may be in. */
export const THROTTLE_RETRY_SECONDS = QUARTER / 1000

type Kind = AuthAttempt['kind']

/** Attempts of `kind` since `since` matching `where` that still count (pending or failed). */
const counted = (kind: Kind, since: number, where: SQL) => sql`(select count(*) from ${authAttempts} a
  where a.kind = ${kind} and ${where} and a.state <> 'succeeded' and a.created_at > ${since})`

export function newAttempt(ctx: ServiceContext, kind: Kind, account: string): AuthAttempt {
  return { id: newId('att'), kind, account, ipKey: ipLimitKey(ctx.audit.ip), state: 'pending', createdAt: nowOf(ctx) }
}

/** The reservation of a sign-in attempt: inserts the row (RETURNING its id) only while every limit has room. */
export function reserveLoginAttempt(ctx: ServiceContext, attempt: AuthAttempt) {
  const now = attempt.createdAt.getTime()
  const { account, ipKey } = attempt
  const trusted = sql`exists(select 1 from ${authAttempts} a where a.kind = 'login' and a.account = ${account}
    and a.ip_key = ${ipKey} and a.state = 'succeeded' and a.created_at > ${now - ATTEMPT_RETENTION_MS})`
  return insertRowWhere(ctx.db, authAttempts, attempt, sql`
    ${counted('login', now - QUARTER, sql`a.account = ${account} and a.ip_key = ${ipKey}`)} < ${LOGIN_LIMITS.pairPer15Min}
    and ${counted('login', now - QUARTER, sql`a.ip_key = ${ipKey}`)} < ${LOGIN_LIMITS.ipPer15Min}
    and (${counted('login', now - HOUR, sql`a.account = ${account}`)} < ${LOGIN_LIMITS.accountPerHour} or ${trusted})`)
    .returning({ id: authAttempts.id })
}

/** The reservation of a current-password check (password change): per account only. */
export function reservePasswordAttempt(ctx: ServiceContext, attempt: AuthAttempt) {
  const now = attempt.createdAt.getTime()
  return insertRowWhere(ctx.db, authAttempts, attempt,
    sql`${counted('password', now - QUARTER, sql`a.account = ${attempt.account}`)} < ${PASSWORD_CHECK_LIMITS.accountPer15Min}`)
    .returning({ id: authAttempts.id })
}

/** The outcome of a reserved attempt (for the same batch as its audit event). */
export function settleAttempt(ctx: ServiceContext, attempt: AuthAttempt, state: 'failed' | 'succeeded') {
  return ctx.db.update(authAttempts).set({ state }).where(and(eq(authAttempts.id, attempt.id), ne(authAttempts.state, state)))
}

/** Attempts past every window, in bounded batches (scheduled job). */
export async function pruneAuthAttempts(ctx: ServiceContext, batchSize = 1000, maxBatches = 10) {
  const cutoff = new Date(nowOf(ctx).getTime() - ATTEMPT_RETENTION_MS)
  let deleted = 0
  for (let i = 0; i < maxBatches; i++) {
    const old = ctx.db.select({ id: authAttempts.id }).from(authAttempts).where(lt(authAttempts.createdAt, cutoff)).limit(batchSize)
    const gone = await ctx.db.delete(authAttempts).where(inArray(authAttempts.id, old)).returning({ id: authAttempts.id })
    deleted += gone.length
    if (gone.length < batchSize) break
  }
  return deleted
}

/**
 * Password hashes this isolate runs at once. scrypt costs ~140 ms of CPU and 16 MiB: beyond this
 * many in flight a check is refused with TOO_MANY_REQUESTS at once (no queue that could grow
 * without end); the client retries after a second.
 */
export const MAX_CONCURRENT_PASSWORD_CHECKS = 4
let checksInFlight = 0

/** Run a password check in one of the isolate's slots, or refuse it without doing any work. */
export async function withPasswordCheckSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (checksInFlight >= MAX_CONCURRENT_PASSWORD_CHECKS) {
    throw new ServiceError('TOO_MANY_REQUESTS', 'The server is busy checking passwords. Try again in a moment.', undefined, 1)
  }
  checksInFlight++
  try {
    return await fn()
  }
  finally {
    checksInFlight--
  }
}
