import { and, asc, eq, gt, isNotNull, lte, sql } from 'drizzle-orm'
import { licenses } from '../../db/schema'
import type { AppEnv } from '../env'
import { nowOf, type ServiceContext } from './context'
import { recordEventIfChanged } from './events'
import { deliverAfterCommit, outboxInsert } from './webhook-outbox'

/**
 * The scheduled side of time-based licensing (SPEC: Time-based licensing). Each run announces
 * `license.expiring` once per licence EXPIRY_NOTICE_DAYS before its expiry and `license.expired`
 * once when it has passed. Exactly once: a licence's marker (the expiresAt value the notice was
 * for) is set by a conditional UPDATE, and the event and outbox rows only follow if that UPDATE
 * changed the row — all in one batch, so two overlapping runs cannot both announce. Renewing or
 * editing the expiry changes expiresAt, which re-arms both notices.
 */
const DAY = 86_400_000
/** Licences announced per kind per run; a backlog drains over the following minutes. */
const PER_RUN = 50

export function expiryNoticeDays(env: Pick<AppEnv, 'EXPIRY_NOTICE_DAYS'>): number {
  const n = Number(env.EXPIRY_NOTICE_DAYS)
  return Number.isFinite(n) && n >= 0 ? n : 7
}

// These two conditions are the WHERE clauses of the partial indexes licenses_expiring_due_idx / licenses_expired_due_idx.
const expiringDue = sql`${licenses.expiresAt} is not null and ${licenses.expiringNotifiedFor} is not ${licenses.expiresAt}`
const expiredDue = sql`${licenses.expiresAt} is not null and ${licenses.expiredNotifiedFor} is not ${licenses.expiresAt}`

export async function announceExpiries(ctx: ServiceContext) {
  const now = nowOf(ctx)
  const horizon = new Date(now.getTime() + expiryNoticeDays(ctx.env) * DAY)
  const [expired, expiring] = await ctx.db.batch([
    ctx.db.select({ id: licenses.id, ownerId: licenses.ownerId, expiresAt: licenses.expiresAt }).from(licenses)
      .where(and(expiredDue, isNotNull(licenses.expiresAt), lte(licenses.expiresAt, now))).orderBy(asc(licenses.expiresAt)).limit(PER_RUN),
    ctx.db.select({ id: licenses.id, ownerId: licenses.ownerId, expiresAt: licenses.expiresAt }).from(licenses)
      .where(and(expiringDue, gt(licenses.expiresAt, now), lte(licenses.expiresAt, horizon))).orderBy(asc(licenses.expiresAt)).limit(PER_RUN),
  ])
  const statements = []
  for (const l of expired) {
    const at = l.expiresAt!
    statements.push(
      // An expired licence needs no "expiring" notice any more either.
      ctx.db.update(licenses).set({ expiredNotifiedFor: at, expiringNotifiedFor: at })
        .where(and(eq(licenses.id, l.id), eq(licenses.expiresAt, at), sql`${licenses.expiredNotifiedFor} is not ${at.getTime()}`)),
      recordEventIfChanged(ctx, { type: 'license.expired', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { expiresAt: at.toISOString() } }),
      outboxInsert(ctx, { type: 'license.expired', licenseId: l.id, onlyIfChanged: true }),
    )
  }
  for (const l of expiring) {
    const at = l.expiresAt!
    statements.push(
      ctx.db.update(licenses).set({ expiringNotifiedFor: at })
        .where(and(eq(licenses.id, l.id), eq(licenses.expiresAt, at), sql`${licenses.expiringNotifiedFor} is not ${at.getTime()}`)),
      recordEventIfChanged(ctx, { type: 'license.expiring', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { expiresAt: at.toISOString(), daysLeft: Math.ceil((at.getTime() - now.getTime()) / DAY) } }),
      outboxInsert(ctx, { type: 'license.expiring', licenseId: l.id, onlyIfChanged: true }),
    )
  }
  if (!statements.length) return { expired: 0, expiring: 0 }
  const results = await ctx.db.batch(statements as [typeof statements[number], ...typeof statements]) as unknown[]
  // Every third result is an outbox insert's returned ids.
  const outbox = results.filter((_, i) => i % 3 === 2).flat() as { id: string }[]
  deliverAfterCommit(ctx, outbox)
  return { expired: expired.length, expiring: expiring.length, messages: outbox.length }
}
