import { sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
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

/** How long API-call events wait to be written together (one D1 batch per interval per isolate). */
export const EVENT_FLUSH_MS = 100
const FLUSH_AT = 200
/** D1 binds at most 100 parameters per statement: 7 events × 13 columns. */
const ROWS_PER_INSERT = 7

/** A statement to write in the same batch as an event, and what to do with its result after the commit. */
export interface WithEvent {
  statement: BatchItem<'sqlite'>
  after?: (ctx: ServiceContext, result: unknown) => void
}
let queuedRows: NewEvent[] = []
let queuedExtra: WithEvent[] = []

/**
 * An event for the public API's hot path: written after the response and batched with the other
 * calls of this isolate — one D1 batch (multi-row inserts) per EVENT_FLUSH_MS instead of one write
 * per call. The first request of a batch keeps it alive with waitUntil until it is written.
 */
export function recordEventSoon(ctx: ServiceContext, input: EventInput, extra?: WithEvent) {
  queuedRows.push(eventRow(ctx, input))
  if (extra) queuedExtra.push(extra)
  if (queuedRows.length === 1) ctx.waitUntil(new Promise(resolve => setTimeout(resolve, EVENT_FLUSH_MS)).then(() => flushEvents(ctx)))
  else if (queuedRows.length >= FLUSH_AT) ctx.waitUntil(flushEvents(ctx))
}

async function flushEvents(ctx: ServiceContext) {
  const rows = queuedRows
  const extra = queuedExtra
  queuedRows = []
  queuedExtra = []
  if (rows.length === 0) return
  const statements: BatchItem<'sqlite'>[] = []
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) statements.push(ctx.db.insert(events).values(rows.slice(i, i + ROWS_PER_INSERT)))
  const first = statements.length
  statements.push(...extra.map(e => e.statement))
  const results = await ctx.db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  extra.forEach((e, i) => e.after?.(ctx, results[first + i]))
}
