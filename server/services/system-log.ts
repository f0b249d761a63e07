import { and, desc, eq, gte, inArray, isNotNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import type { z } from 'zod'
import type { DB } from '../../db/client'
import { eventGroup, events, licenses, products, users } from '../../db/schema'
import { MAX_CHART_RANGE_MS, MAX_HOURLY_RANGE_MS, SUCCESS_OUTCOMES, type listLogSchema, type LogFilter, type myValidationChartSchema, type validationChartSchema } from '../../shared/schemas/log'
import { containsPattern, decodeCursor, encodeCursor } from '../lib/paging'
import { ownedBy, type OwnerScope } from './authz'
import { nowOf, type ServiceContext } from './context'
import { ServiceError } from './errors'

/** Whose events a call may see (server/services/authz.ts: scopeOf, ownScopeOf); it goes into the WHERE clause. */
export type LogScope = OwnerScope

export type LogListInput = z.output<typeof listLogSchema>
export interface LogPage { limit: number, cursor?: string }

const newestFirst = [desc(events.createdAt), desc(events.id)]

/**
 * In a user's own view, the rows whose IP and user agent they may see (and search): everything but
 * what another person (an administrator) did — shown as "an administrator", without their IP,
 * user agent or id (redactForOwner).
 */
const ownVisible = (ownerId: string) => or(ne(events.actorType, 'user'), eq(events.actorId, ownerId))

/** Every filter but the user one, as one AND (undefined parts are dropped). */
function filterWhere(scope: LogScope, f: Omit<LogFilter, 'userId'>, cursor?: string): SQL | undefined {
  const term = f.search ? containsPattern(f.search) : null
  const c = cursor ? decodeCursor(cursor) : null
  const visible = 'ownerId' in scope ? ownVisible(scope.ownerId) : undefined
  return and(
    ownedBy(scope, events.ownerId),
    f.group ? sql`${eventGroup} = ${f.group}` : undefined,
    f.type ? eq(events.type, f.type) : undefined,
    f.outcome ? eq(events.outcome, f.outcome) : undefined,
    f.licenseId ? eq(events.subjectId, f.licenseId) : undefined,
    f.ip ? and(eq(events.ip, f.ip), visible) : undefined,
    f.from ? gte(events.createdAt, f.from) : undefined,
    f.to ? lte(events.createdAt, f.to) : undefined,
    term
      ? sql`(${events.type} like ${term} escape '\\' or ${events.detail} like ${term} escape '\\'
        or (${visible ?? sql`1`} and (${events.ip} like ${term} escape '\\' or ${events.userAgent} like ${term} escape '\\')))`
      : undefined,
    c ? sql`(${events.createdAt}, ${events.id}) < (${c.ms}, ${c.id})` : undefined,
  )
}

const actor = alias(users, 'actor')
const owner = alias(users, 'owner')

/**
 * One page of the log, newest first: the query the service runs (exported so a test can EXPLAIN it).
 * A user filter (owner OR actor) is two index range reads, each limited, merged by id — an OR across
 * two columns would otherwise sort every matching row.
 */
export function logPageQuery(db: DB, scope: LogScope, f: LogFilter, page: LogPage) {
  const base = filterWhere(scope, f, page.cursor)
  const take = page.limit + 1
  let where = base
  if (f.userId) {
    const branch = (col: typeof events.ownerId | typeof events.actorId) => db.select({ id: events.id }).from(events)
      .where(and(base, eq(col, f.userId!))).orderBy(...newestFirst).limit(take)
    where = and(base, sql`${events.id} in (select "id" from ${branch(events.ownerId)} union select "id" from ${branch(events.actorId)})`)
  }
  return db.select({
    id: events.id,
    createdAt: events.createdAt,
    type: events.type,
    actorType: events.actorType,
    actorId: events.actorId,
    actorEmail: actor.email,
    subjectType: events.subjectType,
    subjectId: events.subjectId,
    // What the subject is called today (a license's label, a product's name): the log links it by name.
    subjectLabel: sql<string | null>`coalesce(${licenses.label}, ${products.name})`,
    ownerId: events.ownerId,
    ownerEmail: owner.email,
    ip: events.ip,
    userAgent: events.userAgent,
    country: events.country,
    outcome: events.outcome,
    detail: events.detail,
  })
    .from(events)
    .leftJoin(actor, eq(actor.id, events.actorId))
    .leftJoin(owner, eq(owner.id, events.ownerId))
    .leftJoin(licenses, and(eq(events.subjectType, 'license'), eq(licenses.id, events.subjectId)))
    .leftJoin(products, and(eq(events.subjectType, 'product'), eq(products.id, events.subjectId)))
    .where(where)
    .orderBy(...newestFirst)
    .limit(take)
}

export type LogItem = Awaited<ReturnType<typeof listLog>>['items'][number]

export async function listLog(ctx: ServiceContext, scope: LogScope, f: LogFilter, page: LogPage) {
  const rows = await logPageQuery(ctx.db, scope, f, page)
  const items = rows.slice(0, page.limit).map(r => ('ownerId' in scope ? redactForOwner(r, scope.ownerId) : { ...r, actorLabel: r.actorEmail ?? r.actorType }))
  const last = items.at(-1)
  return { items, nextCursor: rows.length > page.limit && last ? encodeCursor(last) : null }
}

export const ADMINISTRATOR_LABEL = 'an administrator'

/**
 * An event as its owner may see it: what another person did on their data (an administrator — the
 * only other people who can) says "an administrator", without that person's id, email, IP, user
 * agent or country.
 */
export function redactForOwner<T extends { actorType: string, actorId: string | null, ip: string | null }>(r: T & { actorEmail?: string | null, userAgent?: string | null, country?: string | null }, ownerId: string) {
  if (r.actorType !== 'user' || r.actorId === ownerId) return { ...r, actorLabel: r.actorEmail ?? r.actorType }
  return { ...r, actorId: null, actorEmail: null, ip: null, userAgent: null, country: null, actorLabel: ADMINISTRATOR_LABEL }
}

/** Every page of a filter, in chunks (the CSV export streams these). */
export async function* allLogPages(ctx: ServiceContext, scope: LogScope, f: LogFilter, chunk = 500) {
  let cursor: string | undefined
  for (;;) {
    const page = await listLog(ctx, scope, f, { limit: chunk, cursor })
    yield page.items
    if (!page.nextCursor) return
    cursor = page.nextCursor
  }
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const succeeded = sql`${events.outcome} in (${sql.join(SUCCESS_OUTCOMES.map(o => sql`${o}`), sql`, `)})`

export type ChartInput = z.output<typeof validationChartSchema> | z.output<typeof myValidationChartSchema>

/** The chart's WHERE (exported for the query-plan test). */
export function chartWhere(scope: LogScope, input: ChartInput, from: Date, to: Date): SQL | undefined {
  return and(
    sql`${eventGroup} = 'validations'`,
    gte(events.createdAt, from),
    lte(events.createdAt, to),
    ownedBy(scope, events.ownerId),
    'userId' in input && input.userId ? eq(events.ownerId, input.userId) : undefined,
    input.licenseId ? eq(events.subjectId, input.licenseId) : undefined,
  )
}

/**
 * Validation calls over time (succeeded vs failed per hour, or per day past two days), with the
 * top IPs and the licenses with most failures in the range. Never key material: a license is its id and label.
 */
export async function validationChart(ctx: ServiceContext, scope: LogScope, input: ChartInput) {
  const to = input.to ?? nowOf(ctx)
  const from = input.from ?? new Date(to.getTime() - 7 * DAY)
  // The schema checks a range given in full; with one end defaulted, check it here.
  if (from.getTime() > to.getTime() || to.getTime() - from.getTime() > MAX_CHART_RANGE_MS) {
    throw new ServiceError('BAD_REQUEST', 'Pick a range of at most a year, "from" before "to"')
  }
  const span = to.getTime() - from.getTime()
  if (input.bucket === 'hour' && span > MAX_HOURLY_RANGE_MS) throw new ServiceError('BAD_REQUEST', 'Per hour is offered for ranges of up to 8 days')
  const bucketMs = (input.bucket ?? (span <= 2 * DAY ? 'hour' : 'day')) === 'hour' ? HOUR : DAY
  const where = chartWhere(scope, input, from, to)
  // A literal, not a bound parameter: D1 binds numbers as REAL, and integer division is the point here.
  const size = sql.raw(String(bucketMs))
  const bucket = sql<number>`(${events.createdAt} / ${size}) * ${size}`
  const [counts, ips, failing] = await ctx.db.batch([
    ctx.db.select({ bucket, succeeded: sql<number>`sum(${succeeded})`, total: sql<number>`count(*)` })
      .from(events).where(where).groupBy(bucket),
    ctx.db.select({ ip: events.ip, total: sql<number>`count(*)`, failed: sql<number>`sum(not ${succeeded})` })
      .from(events).where(and(where, isNotNull(events.ip))).groupBy(events.ip).orderBy(desc(sql`count(*)`), events.ip).limit(5),
    ctx.db.select({ licenseId: events.subjectId, label: licenses.label, failed: sql<number>`count(*)` })
      .from(events).leftJoin(licenses, eq(licenses.id, events.subjectId))
      .where(and(where, isNotNull(events.subjectId), sql`not ${succeeded}`))
      .groupBy(events.subjectId, licenses.label).orderBy(desc(sql`count(*)`), events.subjectId).limit(5),
  ])
  const byBucket = new Map(counts.map(c => [Number(c.bucket), c]))
  const buckets: { at: Date, succeeded: number, failed: number }[] = []
  for (let t = Math.floor(from.getTime() / bucketMs) * bucketMs; t <= to.getTime(); t += bucketMs) {
    const c = byBucket.get(t)
    buckets.push({ at: new Date(t), succeeded: Number(c?.succeeded ?? 0), failed: Number(c ? c.total - c.succeeded : 0) })
  }
  return {
    from,
    to,
    bucket: bucketMs === HOUR ? 'hour' as const : 'day' as const,
    buckets,
    total: buckets.reduce((n, b) => n + b.succeeded + b.failed, 0),
    topIps: ips.map(r => ({ ip: r.ip!, total: Number(r.total), failed: Number(r.failed) })),
    topFailingLicenses: failing.map(r => ({ licenseId: r.licenseId!, label: r.label ?? null, failed: Number(r.failed) })),
  }
}

/** Delete events older than the retention, in bounded batches (one statement per batch, at most maxStatements per run). */
export async function pruneEvents(ctx: ServiceContext, opts: { days: number, batchSize?: number, maxStatements?: number }) {
  const batchSize = opts.batchSize ?? 1000
  const maxStatements = opts.maxStatements ?? 20
  const cutoff = new Date(nowOf(ctx).getTime() - opts.days * DAY)
  let deleted = 0
  for (let i = 0; i < maxStatements; i++) {
    const old = ctx.db.select({ id: events.id }).from(events).where(lt(events.createdAt, cutoff)).limit(batchSize)
    const gone = await ctx.db.delete(events).where(inArray(events.id, old)).returning({ id: events.id })
    deleted += gone.length
    if (gone.length < batchSize) break
  }
  return { deleted, cutoff }
}

/** EVENT_RETENTION_DAYS from wrangler.toml [vars]; 90 when unset or not a positive number. */
export function retentionDays(env: { EVENT_RETENTION_DAYS?: string }): number {
  const n = Number(env.EVENT_RETENTION_DAYS)
  return Number.isFinite(n) && n > 0 ? n : 90
}

