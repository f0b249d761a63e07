import { z } from 'zod'
import { idSchema } from './common'

/**
 * The system log's type groups, defined once: each a set of dotted type prefixes and a label. The
 * indexed SQL expression (db/schema/events.ts EVENT_GROUP_SQL) is generated from this list, so a new
 * group here means `npx drizzle-kit generate` (the index expression changes). First match wins.
 */
export const LOG_GROUPS = {
  auth: { prefixes: ['auth.', 'session.'], label: 'Sign-ins & sessions' },
  licenses: { prefixes: ['license.'], label: 'Licenses' },
  validations: { prefixes: ['validation.'], label: 'Validations' },
  devices: { prefixes: ['device.'], label: 'Devices' },
  products: { prefixes: ['product.'], label: 'Products' },
  webhooks: { prefixes: ['webhook.'], label: 'Webhooks' },
  tokens: { prefixes: ['api_token.'], label: 'API tokens' },
  admin: { prefixes: ['user.'], label: 'Users (admin)' },
} as const satisfies Record<string, { prefixes: readonly string[], label: string }>
export type LogGroup = keyof typeof LOG_GROUPS
export const LOG_GROUP_NAMES = Object.keys(LOG_GROUPS) as [LogGroup, ...LogGroup[]]

/** The group of an event type (null: none), the same rule as the SQL expression. */
export function groupOfType(type: string): LogGroup | null {
  for (const g of LOG_GROUP_NAMES) if (LOG_GROUPS[g].prefixes.some(p => type.startsWith(p))) return g
  return null
}

/** `(case when "type" glob 'auth.*' or … then 'auth' … end)` — one line and no commas (drizzle-kit splits index expressions at commas). */
export function eventGroupSql(): string {
  const whens = LOG_GROUP_NAMES.map(g => `when ${LOG_GROUPS[g].prefixes.map(p => `"type" glob '${p}*'`).join(' or ')} then '${g}'`)
  return `(case ${whens.join(' ')} end)`
}

/** Validation outcomes that count as "succeeded" in the chart; every other outcome is a failure. */
export const SUCCESS_OUTCOMES = ['VALID', 'ACTIVATED', 'ALREADY_ACTIVATED', 'DEACTIVATED', 'ALIVE'] as const

const shortText = (max: number) => z.string().trim().max(max)
/** An empty query-string value means "no filter". */
const optional = <T extends z.ZodType>(s: T) => z.preprocess(v => (v === '' || v === null ? undefined : v), s.optional())

/** Filters shared by log.list, log.mine and the CSV export (query params arrive as strings). */
const filterShape = {
  group: optional(z.enum(LOG_GROUP_NAMES)),
  type: optional(shortText(64).regex(/^[a-z_]+(\.[a-z_]+)*$/, 'Invalid event type')),
  outcome: optional(shortText(64).regex(/^[A-Za-z_]+$/, 'Invalid outcome')),
  /** Admins only: events a user owns or did. */
  userId: optional(idSchema),
  licenseId: optional(idSchema),
  ip: optional(shortText(64)),
  from: optional(z.coerce.date()),
  to: optional(z.coerce.date()),
  search: optional(shortText(100)),
}
const ordered = (v: { from?: Date, to?: Date }) => !(v.from && v.to && v.from.getTime() > v.to.getTime())
const orderedMessage = { message: '"from" must be before "to"', path: ['to'] }

export const logFilterSchema = z.object(filterShape).refine(ordered, orderedMessage)
export type LogFilter = z.output<typeof logFilterSchema>

const paging = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: optional(z.string().max(100).regex(/^\d{1,15}:[a-z]{3}_[0-9a-z]{1,40}$/, 'Invalid cursor')),
}

export const listLogSchema = z.object({ ...filterShape, ...paging }).refine(ordered, orderedMessage)
/** A user's own log: no user filter (ownership is the caller, in the WHERE clause). */
export const listMyLogSchema = z.object({ ...filterShape, ...paging }).omit({ userId: true }).refine(ordered, orderedMessage)

/** At most a year of chart at once. */
export const MAX_CHART_RANGE_MS = 366 * 24 * 3_600_000

/** Hourly buckets are offered up to this range (8 days: 192 bars); longer ranges are per day. */
export const MAX_HOURLY_RANGE_MS = 8 * 24 * 3_600_000
export const CHART_BUCKETS = ['hour', 'day'] as const

const chartRange = {
  from: optional(z.coerce.date()),
  to: optional(z.coerce.date()),
  licenseId: optional(idSchema),
  /** Per hour or per day; absent: per hour up to two days, else per day. Per hour only up to 8 days. */
  bucket: optional(z.enum(CHART_BUCKETS)),
}
const rangeOk = (v: { from?: Date, to?: Date }) => !(v.from && v.to && (v.from.getTime() > v.to.getTime() || v.to.getTime() - v.from.getTime() > MAX_CHART_RANGE_MS))
const rangeMessage = { message: 'Pick a range of at most a year, "from" before "to"', path: ['to'] }

export const validationChartSchema = z.object({ ...chartRange, userId: optional(idSchema) }).refine(rangeOk, rangeMessage)
export const myValidationChartSchema = z.object(chartRange).refine(rangeOk, rangeMessage)
