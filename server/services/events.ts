import { sql } from 'drizzle-orm'
import { events, type NewEvent } from '../../db/schema'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'

export interface EventInput {
  type: string
  outcome: string
  subjectType?: string | null
  subjectId?: string | null
  ownerId?: string | null
  detail?: Record<string, unknown> | null
}

/** Never let these into the audit log, whatever a caller passes in detail. */
const FORBIDDEN_DETAIL_KEYS = /pass|secret|token|hash|key|cookie|authorization/i

function cleanDetail(detail: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (!detail) return null
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(detail)) {
    if (FORBIDDEN_DETAIL_KEYS.test(k)) continue
    out[k] = typeof v === 'string' ? v.slice(0, 256) : v
  }
  return out
}

export function eventRow(ctx: ServiceContext, input: EventInput): NewEvent {
  return {
    id: newId('evt'),
    createdAt: nowOf(ctx),
    type: input.type,
    actorType: ctx.actor.type,
    actorId: ctx.actor.id,
    subjectType: input.subjectType ?? null,
    subjectId: input.subjectId ?? null,
    ownerId: input.ownerId ?? null,
    ip: ctx.audit.ip.slice(0, 64) || null,
    userAgent: ctx.audit.userAgent.slice(0, 512) || null,
    country: ctx.audit.country,
    outcome: input.outcome,
    detail: cleanDetail(input.detail),
  }
}

/** The insert statement, for use inside a db.batch([...change, recordEvent(...)]). */
export function recordEvent(ctx: ServiceContext, input: EventInput) {
  return ctx.db.insert(events).values(eventRow(ctx, input))
}

/**
 * An event insert that only happens if the statement just before it in the same batch changed a row
 * (SQLite `changes()`): a conditional update that matched nothing leaves no audit trail of a change
 * that did not happen. D1 runs a batch's statements in order in one transaction.
 */
export function recordEventIfChanged(ctx: ServiceContext, input: EventInput) {
  const r = eventRow(ctx, input)
  // Values in the table's column order (drizzle's insert…select requires it).
  return ctx.db.insert(events).select(sql`select ${r.id}, ${(r.createdAt as Date).getTime()}, ${r.type}, ${r.actorType}, ${r.actorId ?? null},
    ${r.subjectType ?? null}, ${r.subjectId ?? null}, ${r.ownerId ?? null}, ${r.ip ?? null}, ${r.userAgent ?? null}, ${r.country ?? null},
    ${r.outcome}, ${r.detail ? JSON.stringify(r.detail) : null} where changes() > 0`)
}
