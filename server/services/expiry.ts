import { and, asc, eq, exists, gt, isNotNull, lte, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import { licenses, type License } from '../../db/schema'
import type { AppEnv } from '../env'
import { nowOf, type ServiceContext } from './context'
import { recordEventWhere } from './events'
import { deliverAfterCommit, outboxInsert } from './webhook-outbox'

/**
 * The scheduled side of time-based licensing (docs/webhooks.md, expiry notices). Each run announces
 * `license.expiring` once per license EXPIRY_NOTICE_DAYS before its expiry and `license.expired`
 * once when it has passed — with a grace period (docs/policies.md), `license.grace_started` when
 * expiresAt passes and `license.expired` at the grace end. Exactly once: a license's marker (the expiresAt value the notice was
 * for) is set by a conditional UPDATE, the event is written on that UPDATE's own condition and the
 * outbox rows only with that event — all in one batch, so two overlapping runs cannot both announce. Renewing or
 * editing the expiry changes expiresAt, which re-arms both notices.
 */
const DAY = 86_400_000
/** Licenses announced per kind per run; a backlog drains over the following minutes. */
const PER_RUN = 50

export function expiryNoticeDays(env: Pick<AppEnv, 'EXPIRY_NOTICE_DAYS'>): number {
  const n = Number(env.EXPIRY_NOTICE_DAYS)
  return Number.isFinite(n) && n >= 0 ? n : 7
}

// These two conditions are the WHERE clauses of the partial indexes licenses_expiring_due_idx / licenses_expired_due_idx.
const expiringDue = sql`${licenses.expiresAt} is not null and ${licenses.expiringNotifiedFor} is not ${licenses.expiresAt}`
const expiredDue = sql`${licenses.expiresAt} is not null and ${licenses.expiredNotifiedFor} is not ${licenses.expiresAt}`
const graceDue = sql`${licenses.graceEndsAt} is not null and ${licenses.graceNotifiedFor} is not ${licenses.expiresAt}`
/** When access ends: the grace end, if there is a grace period (the expression licenses_expired_due_idx is on). */
const endsAt = sql`(case when ${licenses.graceEndsAt} is null then ${licenses.expiresAt} else ${licenses.graceEndsAt} end)`

export async function announceExpiries(ctx: ServiceContext) {
  const now = nowOf(ctx)
  const horizon = new Date(now.getTime() + expiryNoticeDays(ctx.env) * DAY)
  const [expired, expiring, graceStarted] = await ctx.db.batch([
    ctx.db.select({ id: licenses.id, ownerId: licenses.ownerId, expiresAt: licenses.expiresAt, graceEndsAt: licenses.graceEndsAt }).from(licenses)
      .where(and(expiredDue, isNotNull(licenses.expiresAt), sql`${endsAt} <= ${now.getTime()}`)).orderBy(asc(endsAt)).limit(PER_RUN),
    ctx.db.select({ id: licenses.id, ownerId: licenses.ownerId, expiresAt: licenses.expiresAt }).from(licenses)
      .where(and(expiringDue, gt(licenses.expiresAt, now), lte(licenses.expiresAt, horizon))).orderBy(asc(licenses.expiresAt)).limit(PER_RUN),
    // Past expiresAt, grace not over yet (those are announced as expired, below).
    ctx.db.select({ id: licenses.id, ownerId: licenses.ownerId, expiresAt: licenses.expiresAt, graceEndsAt: licenses.graceEndsAt }).from(licenses)
      .where(and(graceDue, isNotNull(licenses.expiresAt), lte(licenses.expiresAt, now), gt(licenses.graceEndsAt, now))).orderBy(asc(licenses.expiresAt)).limit(PER_RUN),
  ])
  // Per license: the event (on the marker update's own condition), the marker update, the outbox rows
  // (only with that event). The outbox statements' places are kept to read their new message ids.
  const statements: BatchItem<'sqlite'>[] = []
  const outboxAt: number[] = []
  const announce = (l: { id: string, ownerId: string }, type: 'license.expired' | 'license.expiring' | 'license.grace_started', due: SQL, marker: Partial<License>, detail: Record<string, unknown>) => {
    const target = and(eq(licenses.id, l.id), due)
    const event = recordEventWhere(ctx, { type, outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail },
      exists(ctx.db.select({ one: sql`1` }).from(licenses).where(target)))
    statements.push(event.insert, ctx.db.update(licenses).set(marker).where(target))
    outboxAt.push(statements.push(outboxInsert(ctx, { type, licenseId: l.id, onlyWithEvent: event.id })) - 1)
  }
  for (const l of expired) {
    const at = l.expiresAt!
    // An expired license needs no "expiring" or "grace started" notice any more either.
    announce(l, 'license.expired', and(eq(licenses.expiresAt, at), sql`${licenses.expiredNotifiedFor} is not ${at.getTime()}`)!,
      { expiredNotifiedFor: at, expiringNotifiedFor: at, graceNotifiedFor: at }, { expiresAt: at.toISOString(), ...(l.graceEndsAt ? { graceEndsAt: l.graceEndsAt.toISOString() } : {}) })
  }
  for (const l of graceStarted) {
    const at = l.expiresAt!
    announce(l, 'license.grace_started', and(eq(licenses.expiresAt, at), sql`${licenses.graceNotifiedFor} is not ${at.getTime()}`)!,
      { graceNotifiedFor: at, expiringNotifiedFor: at }, { expiresAt: at.toISOString(), graceEndsAt: l.graceEndsAt!.toISOString() })
  }
  for (const l of expiring) {
    const at = l.expiresAt!
    announce(l, 'license.expiring', and(eq(licenses.expiresAt, at), sql`${licenses.expiringNotifiedFor} is not ${at.getTime()}`)!,
      { expiringNotifiedFor: at }, { expiresAt: at.toISOString(), daysLeft: Math.ceil((at.getTime() - now.getTime()) / DAY) })
  }
  if (!statements.length) return { expired: 0, expiring: 0, graceStarted: 0 }
  const results = await ctx.db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  const outbox = outboxAt.flatMap(i => results[i] as { id: string }[])
  deliverAfterCommit(ctx, outbox)
  return { expired: expired.length, expiring: expiring.length, graceStarted: graceStarted.length, messages: outbox.length }
}
