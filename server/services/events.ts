import { eq, getTableColumns, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import { events, EVENTS_LOST, systemCounters, type NewEvent } from '../../db/schema'
import { insertRowWhere } from '../lib/insert-where'
import { newTimeOrderedId } from '../lib/random'
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
  const createdAt = nowOf(ctx)
  return {
    id: newTimeOrderedId('evt', createdAt.getTime()),
    createdAt,
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
 * An event written only if `condition` holds when its statement runs. Put it BEFORE the change it
 * announces, with the change's own WHERE clause as the condition: a batch is one transaction, so
 * both statements see the same rows and the event exists exactly when the change happens. Follow-up
 * statements (webhook outbox rows) that must only exist with this event test `eventWritten(id)`.
 */
export function recordEventWhere(ctx: ServiceContext, input: EventInput, condition: SQL) {
  const row = eventRow(ctx, input)
  return { id: row.id, insert: insertRowWhere(ctx.db, events, row, condition) }
}

/** SQL: the event `id` was written (earlier in the same batch). */
export const eventWritten = (id: string) => sql`exists(select 1 from events ev where ev.id = ${id})`

/** How long API-call events wait to be written together (one D1 batch per interval per isolate). */
export const EVENT_FLUSH_MS = 100
const FLUSH_AT = 200
/** The events table's columns in its order: property name and the value as D1 stores it (Drizzle's own mapping). */
const EVENT_COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({ key: key as keyof NewEvent, toDriver: (v: unknown) => column.mapToDriverValue(v) as unknown }))
const EVENT_VALUES = sql.raw(`select ${EVENT_COLUMNS.map((_, i) => `value ->> ${i}`).join(', ')} from json_each(`)

/**
 * All queued rows in ONE statement with one parameter: a JSON array of rows (each an array of the
 * columns' stored values, in the table's column order, which is the order Drizzle names them in
 * `insert … select`) that SQLite's json_each turns into the inserted rows, in order. Instead of a
 * multi-row insert per 7 rows (D1 binds at most 100 parameters), each built by the ORM.
 */
function eventsInsert(ctx: ServiceContext, rows: NewEvent[]) {
  const data = JSON.stringify(rows.map(r => EVENT_COLUMNS.map(c => (r[c.key] == null ? null : c.toDriver(r[c.key])))))
  return ctx.db.insert(events).select(sql`${EVENT_VALUES}${data})`)
}

/** Waits before the 2nd and 3rd try of a failed write; the 3rd writes each row on its own. */
export const EVENT_RETRY_MS = [200, 1000] as const

/** A statement to write in the same batch as an event, and what to do with its result after the commit. */
export interface WithEvent {
  statement: BatchItem<'sqlite'>
  after?: (ctx: ServiceContext, result: unknown) => void
}
let queuedRows: NewEvent[] = []
let queuedExtra: WithEvent[] = []
/** Events this isolate lost and has not yet managed to add to the events_lost counter. */
let lossesToRecord = 0

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

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const messageOf = (error: unknown) => (error instanceof Error ? error.message : 'unknown error')

/** The events_lost counter raised by `n` (an upsert; for a batch). */
function lossCounterUpsert(ctx: ServiceContext, n: number) {
  const now = nowOf(ctx)
  return ctx.db.insert(systemCounters).values({ name: EVENTS_LOST, value: n, updatedAt: now })
    .onConflictDoUpdate({ target: systemCounters.name, set: { value: sql`${systemCounters.value} + ${n}`, updatedAt: now } })
}

/**
 * Write the queued events (and the statements that go with them). A failed batch is tried again
 * after EVENT_RETRY_MS; the last try writes each statement on its own, so one bad row cannot take
 * the others with it. What is still not written is lost: counted in `events_lost` (with the next
 * write that succeeds, if D1 refuses this one too) and logged, never silently dropped.
 */
async function flushEvents(ctx: ServiceContext) {
  const rows = queuedRows
  const extra = queuedExtra
  queuedRows = []
  queuedExtra = []
  if (rows.length === 0) return
  const statements: BatchItem<'sqlite'>[] = [eventsInsert(ctx, rows)]
  const first = statements.length
  statements.push(...extra.map(e => e.statement))
  const carried = lossesToRecord
  if (carried) statements.push(lossCounterUpsert(ctx, carried))
  let lastError: unknown
  // Two tries as one batch, EVENT_RETRY_MS[0] apart; then, EVENT_RETRY_MS[1] later, row by row.
  for (let attempt = 0; ; attempt++) {
    try {
      const results = await ctx.db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
      lossesToRecord -= carried
      extra.forEach((e, i) => e.after?.(ctx, results[first + i]))
      return
    }
    catch (error) {
      lastError = error
    }
    await sleep(EVENT_RETRY_MS[attempt]!)
    if (attempt + 1 === EVENT_RETRY_MS.length) break
  }
  // The last try: every row and statement on its own, so whatever can be written is.
  type Runnable = { run: () => Promise<unknown>, all: () => Promise<unknown> }
  const outcomes = await Promise.allSettled([
    ...rows.map(r => ctx.db.insert(events).values(r).run()),
    // .all(): an outbox insert's RETURNING rows, as the batch would give them.
    ...extra.map(e => (e.statement as unknown as Runnable).all()),
  ])
  let lost = 0
  outcomes.forEach((o, i) => {
    if (o.status === 'rejected') {
      lastError = o.reason
      if (i < rows.length) lost++
    }
    else if (i >= rows.length) extra[i - rows.length]!.after?.(ctx, o.value)
  })
  if (lost) await countLostEvents(ctx, lost, lastError)
}

/** Add `n` lost events to the counter now; if D1 refuses that too, the next flush carries them. */
async function countLostEvents(ctx: ServiceContext, n: number, cause: unknown) {
  console.error(`events lost: ${n} audit event(s) could not be written after ${EVENT_RETRY_MS.length + 1} tries: ${messageOf(cause)}`)
  try {
    await lossCounterUpsert(ctx, n).run()
  }
  catch {
    lossesToRecord += n
  }
}

/** The events_lost counter (health ?deep=1, the admin Overview). */
export async function lostEventCount(ctx: ServiceContext): Promise<{ eventsLost: number, updatedAt: Date | null }> {
  const [row] = await ctx.db.select().from(systemCounters).where(eq(systemCounters.name, EVENTS_LOST)).limit(1)
  return { eventsLost: row?.value ?? 0, updatedAt: row?.updatedAt ?? null }
}
