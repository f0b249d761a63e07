import { and, desc, eq, exists, gt, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { z } from 'zod'
import { devices, events, licenses, licenseSortKeys, products, users, type License } from '../../db/schema'
import type { createLicenseSchema, LicenseSort, listLicensesSchema, renewLicenseSchema, updateLicenseSchema } from '../../shared/schemas/licenses'
import { isProductId, type SortDirection } from '../../shared/schemas/common'
import { GRACE_ON_PERPETUAL, type Policies } from '../../shared/schemas/policies'
import { addDuration, parseDuration } from '../lib/duration'
import { changesAnything } from '../lib/insert-where'
import { graceEndOf, inGrace, leaseEndOf } from '../lib/policies'
import { decryptKey, encryptKey, generateKey, keyDigest, keyHintOf, maskedKeyOf, normalizeKey } from '../lib/keys'
import { containsPattern, decodeCursor, encodeCursor, sortedKeyset } from '../lib/paging'
import { newId } from '../lib/random'
import { ownedBy, type OwnerScope } from './authz'
import { nowOf, type ServiceContext } from './context'
import { notFound, ServiceError } from './errors'
import { recordEvent, recordEventWhere } from './events'
import { findOwnersProduct } from './products'
import { redactForOwner } from './system-log'
import { deliverAfterCommit, outboxInsert } from './webhook-outbox'

/** Whose licenses a call may see and touch (server/services/authz.ts: scopeOf); it goes into every WHERE clause. */
export type LicenseScope = OwnerScope

const inScope = (scope: LicenseScope, id?: string): SQL | undefined => and(
  id ? eq(licenses.id, id) : undefined,
  ownedBy(scope, licenses.ownerId),
)

export type LicenseView = ReturnType<typeof licenseView>

/** A license's product as views show it. */
export interface ProductRef { id: string, slug: string, name: string }

/** A license as the web app and CLI see it: never the digest or ciphertext. */
export function licenseView(l: License, extra: { devicesUsed: number, ownerEmail?: string | null, product?: ProductRef | null }, now: Date) {
  // Expired once the grace period (if any) is over too; during grace it still verifies.
  const end = l.graceEndsAt ?? l.expiresAt
  const expired = end !== null && end.getTime() <= now.getTime()
  return {
    id: l.id,
    ownerId: l.ownerId,
    ownerEmail: extra.ownerEmail ?? null,
    productId: l.productId,
    product: l.productId && extra.product?.id === l.productId ? extra.product : null,
    label: l.label,
    maskedKey: maskedKeyOf(l.keyHint),
    status: l.status,
    /** What people see: suspended wins over expired, as in the public API. */
    displayStatus: l.status === 'suspended' ? 'suspended' as const : expired ? 'expired' as const : 'active' as const,
    expiresAt: l.expiresAt,
    maxDevices: l.maxDevices,
    devicesUsed: extra.devicesUsed,
    metadata: l.metadata,
    renewalPeriod: l.renewalPeriod,
    customerEmail: l.customerEmail,
    customerName: l.customerName,
    externalId: l.externalId,
    ...policiesOf(l),
    graceEndsAt: l.graceEndsAt,
    inGrace: l.status === 'active' && inGrace(l, now),
    /** A trial that starts on first use and has not started yet. */
    trialPending: l.expiresAfterActivation !== null && l.expiresAt === null,
    /** The last license.device_limit_reached / license.anomaly (the badges). */
    deviceLimitReachedAt: l.deviceLimitReachedAt,
    anomaly: l.anomalyAt ? { at: l.anomalyAt, distinctIps: l.anomalyIps ?? 0 } : null,
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
  }
}

/** A license's policies as views and the management API show them (docs/policies.md). */
export function policiesOf(l: Pick<License, 'grace' | 'expiresAfterActivation' | 'activationLimitCount' | 'activationLimitPeriod' | 'leaseDuration'>): Policies {
  return {
    grace: l.grace,
    expiresAfterActivation: l.expiresAfterActivation,
    maxActivationsPerPeriod: l.activationLimitCount && l.activationLimitPeriod ? { count: l.activationLimitCount, period: l.activationLimitPeriod } : null,
    leaseDuration: l.leaseDuration,
  }
}

/** Devices holding a seat at `now`: a lapsed lease holds none (docs/policies.md). */
const liveDevicesSql = (now: Date, alias = 'd') => sql.raw(`(${alias}.lease_expires_at is null or ${alias}.lease_expires_at > ${now.getTime()})`)

const badPolicy = (field: string, message: string) => new ServiceError('BAD_REQUEST', message, { [field]: [message] })

/** The product columns of a query that left-joins products (null members when there is none). */
const productRef = { id: products.id, slug: products.slug, name: products.name }
const refOf = (p: { id: string | null, slug: string | null, name: string | null } | null): ProductRef | null =>
  p?.id ? { id: p.id, slug: p.slug!, name: p.name! } : null

const EXTERNAL_ID_TAKEN = 'Another license of this owner has this external id'
const externalIdTaken = () => new ServiceError('CONFLICT', EXTERNAL_ID_TAKEN, { externalId: [EXTERNAL_ID_TAKEN] })
const isExternalIdViolation = (error: unknown) =>
  /UNIQUE constraint failed: licenses\.owner_id, licenses\.external_id/.test(String((error as Error)?.message ?? error))

async function externalIdInUse(ctx: ServiceContext, ownerId: string, externalId: string, exceptId?: string) {
  const [row] = await ctx.db.select({ id: licenses.id }).from(licenses)
    .where(and(eq(licenses.ownerId, ownerId), eq(licenses.externalId, externalId), exceptId ? sql`${licenses.id} <> ${exceptId}` : undefined)).limit(1)
  return !!row
}

const devicesUsed = (now: Date) => sql<number>`(select count(*) from devices d where d.license_id = licenses.id and ${liveDevicesSql(now)})`.as('devices_used')

function expiryFrom(now: Date, input: { expiresAt?: Date | null, expiresIn?: string }): Date | null {
  if (input.expiresIn) return addDuration(now, parseDuration(input.expiresIn)!)
  return input.expiresAt ?? null
}

function licenseEvent(type: string, l: Pick<License, 'id' | 'ownerId'>, detail?: Record<string, unknown>) {
  return { type, outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail }
}

/**
 * Create a license for `ownerId`. With a product (one of the owner's, by id or slug), each field the
 * input leaves unset takes the product's default (docs/products.md).
 */
export async function createLicense(ctx: ServiceContext, ownerId: string, input: z.output<typeof createLicenseSchema>) {
  const [owner] = await ctx.db.select({ id: users.id }).from(users).where(eq(users.id, ownerId)).limit(1)
  if (!owner) throw new ServiceError('BAD_REQUEST', 'No such owner', { ownerId: ['No such user'] })
  const product = input.product ? await findOwnersProduct(ctx, ownerId, input.product) : null
  if (input.externalId && await externalIdInUse(ctx, ownerId, input.externalId)) throw externalIdTaken()
  const defaults = product?.defaults ?? {}
  // An expiry and a trial clock are one choice: setting either here leaves both of the product's unused.
  const expiryUnset = input.expiresAt === undefined && input.expiresIn === undefined && input.expiresAfterActivation === undefined
  const now = nowOf(ctx)
  const expiresAt = expiryUnset && defaults.expiresIn ? addDuration(now, parseDuration(defaults.expiresIn)!) : expiryFrom(now, input)
  const pick = <K extends keyof Policies>(k: K) => (input[k] === undefined ? (defaults[k] as Policies[K] | undefined) ?? null : input[k]) as Policies[K]
  const expiresAfterActivation = expiryUnset ? defaults.expiresAfterActivation ?? null : input.expiresAfterActivation ?? null
  const grace = pick('grace')
  if (grace && !expiresAt && !expiresAfterActivation) throw badPolicy('grace', GRACE_ON_PERPETUAL)
  const limit = pick('maxActivationsPerPeriod')
  const { key, body } = generateKey()
  const row = {
    id: newId('lic'),
    ownerId,
    productId: product?.id ?? null,
    label: input.label,
    keyDigest: await keyDigest(ctx.env.KEY_HMAC_SECRET, body),
    keyCiphertext: await encryptKey(ctx.env.KEY_ENC_SECRET, body),
    keyHint: keyHintOf(body),
    status: 'active' as const,
    expiresAt,
    maxDevices: input.maxDevices === undefined ? defaults.maxDevices ?? null : input.maxDevices,
    metadata: input.metadata ?? defaults.metadata ?? {},
    renewalPeriod: input.renewalPeriod === undefined ? defaults.renewalPeriod ?? null : input.renewalPeriod,
    expiringNotifiedFor: null,
    expiredNotifiedFor: null,
    customerEmail: input.customerEmail ?? null,
    customerName: input.customerName ?? null,
    externalId: input.externalId ?? null,
    grace,
    graceEndsAt: graceEndOf(expiresAt, grace),
    expiresAfterActivation,
    activationLimitCount: limit?.count ?? null,
    activationLimitPeriod: limit?.period ?? null,
    leaseDuration: pick('leaseDuration'),
    graceNotifiedFor: null,
    deviceLimitReachedAt: null,
    anomalyAt: null,
    anomalyIps: null,
    createdAt: now,
    updatedAt: now,
  }
  let outbox: { id: string }[]
  try {
    [, , outbox] = await ctx.db.batch([
      ctx.db.insert(licenses).values(row),
      // Never a customer field in an event (they are the seller's customers' personal data).
      recordEvent(ctx, licenseEvent('license.created', row, { label: row.label, product: product?.slug ?? null, expiresAt: row.expiresAt?.toISOString() ?? null, maxDevices: row.maxDevices })),
      outboxInsert(ctx, { type: 'license.created', licenseId: row.id }),
    ])
  }
  catch (error) {
    // Two creations racing on one external id: the unique index decides, and the batch wrote nothing.
    if (isExternalIdViolation(error)) throw externalIdTaken()
    throw error
  }
  deliverAfterCommit(ctx, outbox)
  return { license: licenseView(row, { devicesUsed: 0, product: product && { id: product.id, slug: product.slug, name: product.name } }, now), key }
}

/** One page of the licenses list as a query (its plan is checked in tests/integration/list-sorting.test.ts). */
export function licensePageQuery(ctx: ServiceContext, scope: LicenseScope, input: z.output<typeof listLicensesSchema>) {
  const now = nowOf(ctx)
  const term = input.search ? containsPattern(input.search.toLowerCase()) : null
  const order = licenseOrder(input.sort, input.cursor)
  // Expired means past the grace end, when there is one: a license in grace still verifies (active).
  const end = sql`coalesce(${licenses.graceEndsAt}, ${licenses.expiresAt})`
  const statusFilter = input.status === 'suspended'
    ? eq(licenses.status, 'suspended')
    : input.status === 'expired'
      ? and(eq(licenses.status, 'active'), isNotNull(licenses.expiresAt), sql`${end} <= ${now.getTime()}`)
      : input.status === 'active'
        ? and(eq(licenses.status, 'active'), or(isNull(licenses.expiresAt), sql`${end} > ${now.getTime()}`))
        : undefined
  const query = ctx.db
    .select({ license: licenses, devicesUsed: devicesUsed(now), ownerEmail: users.email, product: productRef, sortValue: order.value })
    .from(licenses)
    .innerJoin(users, eq(users.id, licenses.ownerId))
    .leftJoin(products, eq(products.id, licenses.productId))
    .where(and(
      inScope(scope),
      input.ownerId ? eq(licenses.ownerId, input.ownerId) : undefined,
      input.product ? (isProductId(input.product) ? eq(licenses.productId, input.product) : eq(products.slug, input.product)) : undefined,
      input.customerEmail ? eq(licenses.customerEmail, input.customerEmail) : undefined,
      input.externalId ? eq(licenses.externalId, input.externalId) : undefined,
      term
        ? or(
            sql`lower(${licenses.label}) like ${term} escape '\\'`,
            // Only an admin's list searches owners' emails (a user's are all their own).
            'ownerId' in scope ? undefined : sql`${users.email} like ${term} escape '\\'`,
            sql`${licenses.customerEmail} like ${term} escape '\\'`,
            sql`lower(${licenses.customerName}) like ${term} escape '\\'`,
            sql`lower(${licenses.externalId}) like ${term} escape '\\'`,
            eq(licenses.keyHint, input.search!.toUpperCase()),
          )
        : undefined,
      statusFilter,
      order.where,
    ))
    .orderBy(...order.orderBy)
    .limit(input.limit + 1)
  return { query, order, now }
}

export async function listLicenses(ctx: ServiceContext, scope: LicenseScope, input: z.output<typeof listLicensesSchema>) {
  const { query, order, now } = licensePageQuery(ctx, scope, input)
  const rows = await query
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    items: page.map(r => licenseView(r.license, { devicesUsed: r.devicesUsed, ownerEmail: r.ownerEmail, product: refOf(r.product) }, now)),
    nextCursor: rows.length > input.limit && last ? order.cursorOf({ sortValue: last.sortValue, id: last.license.id, createdAt: last.license.createdAt }) : null,
    /** The clock the page was computed with: the web app's relative times ("expires in 14 days") use it, so the server render and hydration agree. */
    now,
  }
}

const licenseSorts = licenseSortKeys(licenses)

/**
 * The list's order and keyset: newest first by default (cursor "<ms>:<id>", as the management API
 * and CLI page), or one of LICENSE_SORTS in either direction, ties broken by id; each is an index
 * range (db/schema/licenses.ts), never a sort of the whole table.
 */
function licenseOrder(sort: { by: LicenseSort, dir: SortDirection } | undefined, cursor: string | undefined) {
  if (!sort || (sort.by === 'createdAt' && sort.dir === 'desc')) {
    let where: SQL | undefined
    if (cursor) {
      const { ms, id } = decodeCursor(cursor)
      const at = new Date(ms)
      where = or(lt(licenses.createdAt, at), and(eq(licenses.createdAt, at), lt(licenses.id, id)))
    }
    return {
      value: sql<number>`${licenses.createdAt}`,
      where,
      orderBy: [desc(licenses.createdAt), desc(licenses.id)],
      cursorOf: (last: { createdAt: Date, id: string }) => encodeCursor(last),
    }
  }
  const expr = sort.by === 'createdAt' ? sql`${licenses.createdAt}` : licenseSorts[sort.by]
  const page = sortedKeyset(sort.by, expr, licenses.id, sort.dir, cursor)
  return { value: sql<string | number>`${expr}`, ...page }
}

async function findInScope(ctx: ServiceContext, scope: LicenseScope, id: string): Promise<License> {
  const [l] = await ctx.db.select().from(licenses).where(inScope(scope, id)).limit(1)
  if (!l) throw notFound('License')
  return l
}

/** A license with its devices and recent events (the detail page). */
export async function getLicense(ctx: ServiceContext, scope: LicenseScope, id: string) {
  const now = nowOf(ctx)
  const [row] = await ctx.db.select({ license: licenses, devicesUsed: devicesUsed(now), ownerEmail: users.email, product: productRef })
    .from(licenses).innerJoin(users, eq(users.id, licenses.ownerId)).leftJoin(products, eq(products.id, licenses.productId))
    .where(inScope(scope, id)).limit(1)
  if (!row) throw notFound('License')
  const [deviceRows, eventRows] = await ctx.db.batch([
    ctx.db.select().from(devices).where(eq(devices.licenseId, id)).orderBy(desc(devices.lastSeenAt)).limit(500),
    ctx.db.select({ id: events.id, createdAt: events.createdAt, type: events.type, outcome: events.outcome, ip: events.ip, actorType: events.actorType, actorId: events.actorId, detail: events.detail })
      .from(events).where(eq(events.subjectId, id)).orderBy(desc(events.createdAt)).limit(50),
  ])
  // Its owner sees what an administrator did as "an administrator", without their IP or id.
  const shown = eventRows.map(e => ('ownerId' in scope ? redactForOwner(e, scope.ownerId) : { ...e, actorLabel: e.actorType }))
  return {
    ...licenseView(row.license, { devicesUsed: row.devicesUsed, ownerEmail: row.ownerEmail, product: refOf(row.product) }, now),
    devices: deviceRows.map(d => ({ id: d.id, fingerprint: d.fingerprint, name: d.name, ip: d.ip, firstSeenAt: d.firstSeenAt, lastSeenAt: d.lastSeenAt, leaseExpiresAt: d.leaseExpiresAt, holdsSeat: d.leaseExpiresAt === null || d.leaseExpiresAt.getTime() > now.getTime() })),
    events: shown.map(({ actorId: _, ...e }) => e),
  }
}

/** The full key, decrypted for its owner (or an admin). Recorded, since it reveals a secret. */
export async function revealLicenseKey(ctx: ServiceContext, scope: LicenseScope, id: string): Promise<string> {
  const l = await findInScope(ctx, scope, id)
  const body = await decryptWithRotation(ctx, l.keyCiphertext)
  await recordEvent(ctx, licenseEvent('license.key_revealed', l))
  return `LM-${body.match(/.{5}/g)!.join('-')}`
}

async function decryptWithRotation(ctx: ServiceContext, ciphertext: string): Promise<string> {
  try {
    return await decryptKey(ctx.env.KEY_ENC_SECRET, ciphertext)
  }
  catch (error) {
    if (ctx.env.KEY_ENC_SECRET_PREVIOUS) return await decryptKey(ctx.env.KEY_ENC_SECRET_PREVIOUS, ciphertext)
    throw error
  }
}

/** Find a license by its key (CLI `license show KEY`). */
export async function findLicenseByKey(ctx: ServiceContext, scope: LicenseScope, key: string) {
  const body = normalizeKey(key)
  if (!body) throw notFound('License')
  const digests = [await keyDigest(ctx.env.KEY_HMAC_SECRET, body)]
  if (ctx.env.KEY_HMAC_SECRET_PREVIOUS) digests.push(await keyDigest(ctx.env.KEY_HMAC_SECRET_PREVIOUS, body))
  const [l] = await ctx.db.select({ id: licenses.id }).from(licenses).where(and(inArray(licenses.keyDigest, digests), inScope(scope))).limit(1)
  if (!l) throw notFound('License')
  return await getLicense(ctx, scope, l.id)
}

type MutationEvent = 'license.updated' | 'license.suspended' | 'license.reinstated' | 'license.renewed'

/**
 * Apply a change with its audit event and webhook outbox rows in one batch; a license outside the
 * scope is NOT_FOUND. A change that changes nothing (suspending a suspended license, saving the same
 * values) writes nothing: no event, no webhook. The event is written first, on the same condition
 * as the update (`target`), and the outbox rows only with that event.
 */
async function mutate(ctx: ServiceContext, scope: LicenseScope, id: string, changes: Partial<License>, eventType: MutationEvent, detail?: Record<string, unknown>, opts: { before?: License, after?: BatchItem<'sqlite'>[] } = {}) {
  const before = opts.before ?? await findInScope(ctx, scope, id)
  const now = nowOf(ctx)
  // graceEndsAt follows expiresAt and grace, whichever of them changes.
  if ('expiresAt' in changes || 'grace' in changes) {
    changes.graceEndsAt = graceEndOf('expiresAt' in changes ? changes.expiresAt ?? null : before.expiresAt, 'grace' in changes ? changes.grace ?? null : before.grace)
  }
  const viewOf = async (l: License) => {
    const [[count], [product]] = await ctx.db.batch([
      ctx.db.select({ n: sql<number>`count(*)` }).from(devices).where(and(eq(devices.licenseId, id), liveDevicesSql(now, 'devices'))),
      ctx.db.select(productRef).from(products).where(eq(products.id, l.productId ?? '')).limit(1),
    ])
    return licenseView(l, { devicesUsed: count?.n ?? 0, product: product ?? null }, now)
  }
  if (Object.keys(changes).length === 0) return await viewOf(before)
  const target = and(inScope(scope, id), changesAnything(licenses, changes))
  const event = recordEventWhere(ctx, licenseEvent(eventType, before, detail), exists(ctx.db.select({ one: sql`1` }).from(licenses).where(target)))
  let updated: License[], outbox: { id: string }[]
  try {
    [, updated, outbox] = await ctx.db.batch([
      event.insert,
      ctx.db.update(licenses).set({ ...changes, updatedAt: now }).where(target).returning(),
      outboxInsert(ctx, { type: eventType, licenseId: id, data: detail, onlyWithEvent: event.id }),
      ...(opts.after ?? []),
    ]) as unknown as [unknown, License[], { id: string }[]]
  }
  catch (error) {
    // The unique index decides a race for the same externalId: nothing of the batch is written.
    if (isExternalIdViolation(error)) throw externalIdTaken()
    throw error
  }
  // Nothing to change (already so), or gone meanwhile (NOT_FOUND).
  if (!updated[0]) return await viewOf(await findInScope(ctx, scope, id))
  deliverAfterCommit(ctx, outbox)
  return await viewOf(updated[0])
}

const CUSTOMER_FIELDS = new Set(['customerEmail', 'customerName', 'externalId'])

export async function updateLicense(ctx: ServiceContext, scope: LicenseScope, input: z.output<typeof updateLicenseSchema>) {
  const changes: Partial<License> = {}
  const before = await findInScope(ctx, scope, input.id)
  // A license's product is always one of its owner's.
  if (input.product !== undefined) changes.productId = input.product === null ? null : (await findOwnersProduct(ctx, before.ownerId, input.product)).id
  if (input.externalId && await externalIdInUse(ctx, before.ownerId, input.externalId, before.id)) throw externalIdTaken()
  const after = policyChanges(ctx, before, input, changes)
  if (input.customerEmail !== undefined) changes.customerEmail = input.customerEmail
  if (input.customerName !== undefined) changes.customerName = input.customerName
  if (input.externalId !== undefined) changes.externalId = input.externalId
  if (input.label !== undefined) changes.label = input.label
  if (input.maxDevices !== undefined) changes.maxDevices = input.maxDevices
  if (input.metadata !== undefined) changes.metadata = input.metadata
  if (input.renewalPeriod !== undefined) changes.renewalPeriod = input.renewalPeriod
  if (input.expiresAt !== undefined) changes.expiresAt = input.expiresAt
  // Which fields changed, never their values; the customer fields only as "customer".
  const changed = [...new Set(Object.keys(changes).map(k => (CUSTOMER_FIELDS.has(k) ? 'customer' : k === 'productId' ? 'product' : POLICY_COLUMNS[k] ?? k)))]
  return await mutate(ctx, scope, input.id, changes, 'license.updated', { changed }, { before, after })
}

/** Policy columns by the field name people know them by (event details name fields, never values). */
const POLICY_COLUMNS: Record<string, string> = { activationLimitCount: 'maxActivationsPerPeriod', activationLimitPeriod: 'maxActivationsPerPeriod' }

/**
 * The policy fields of an update as column changes (checked against the license as it will be),
 * and the device statements a change of lease needs: a new lease gives every device that holds its
 * seat for good a fresh lease; removing it keeps the devices that still hold a seat, for good, and
 * drops the lapsed ones (so freed seats stay free).
 */
function policyChanges(ctx: ServiceContext, before: License, input: z.output<typeof updateLicenseSchema>, changes: Partial<License>): BatchItem<'sqlite'>[] {
  if (input.grace !== undefined) changes.grace = input.grace
  if (input.expiresAfterActivation !== undefined) changes.expiresAfterActivation = input.expiresAfterActivation
  if (input.maxActivationsPerPeriod !== undefined) {
    changes.activationLimitCount = input.maxActivationsPerPeriod?.count ?? null
    changes.activationLimitPeriod = input.maxActivationsPerPeriod?.period ?? null
  }
  if (input.leaseDuration !== undefined) changes.leaseDuration = input.leaseDuration
  const expiresAt = input.expiresAt !== undefined ? input.expiresAt : before.expiresAt
  const grace = input.grace !== undefined ? input.grace : before.grace
  const trial = input.expiresAfterActivation !== undefined ? input.expiresAfterActivation : before.expiresAfterActivation
  if (grace && !expiresAt && !trial) throw badPolicy(input.grace !== undefined ? 'grace' : 'expiresAt', GRACE_ON_PERPETUAL)
  if (input.leaseDuration === undefined || input.leaseDuration === before.leaseDuration) return []
  const now = nowOf(ctx)
  if (input.leaseDuration === null) {
    return [
      ctx.db.delete(devices).where(and(eq(devices.licenseId, before.id), isNotNull(devices.leaseExpiresAt), lte(devices.leaseExpiresAt, now))),
      ctx.db.update(devices).set({ leaseExpiresAt: null }).where(eq(devices.licenseId, before.id)),
    ]
  }
  return [ctx.db.update(devices).set({ leaseExpiresAt: leaseEndOf(input.leaseDuration, now) }).where(and(eq(devices.licenseId, before.id), isNull(devices.leaseExpiresAt)))]
}

export async function suspendLicense(ctx: ServiceContext, scope: LicenseScope, id: string) {
  return await mutate(ctx, scope, id, { status: 'suspended' }, 'license.suspended')
}

export async function reinstateLicense(ctx: ServiceContext, scope: LicenseScope, id: string) {
  return await mutate(ctx, scope, id, { status: 'active' }, 'license.reinstated')
}

/**
 * Renew: to a chosen date, or by a duration (default: the license's renewal period) from the later
 * of now and the current expiry. A perpetual license has nothing to extend: only a date applies.
 */
export async function renewLicense(ctx: ServiceContext, scope: LicenseScope, input: z.output<typeof renewLicenseSchema>) {
  const l = await findInScope(ctx, scope, input.id)
  const now = nowOf(ctx)
  let expiresAt: Date
  if (input.expiresAt) {
    expiresAt = input.expiresAt
  }
  else if (l.expiresAt === null) {
    throw new ServiceError('BAD_REQUEST', 'A perpetual license does not expire: give a date to make it expire', { expiresAt: ['Give a date'] })
  }
  else {
    const period = input.expiresIn ?? l.renewalPeriod
    if (!period) throw new ServiceError('BAD_REQUEST', 'This license has no renewal period: give a date or a duration', { expiresIn: ['Give a duration or a date'] })
    const base = l.expiresAt && l.expiresAt.getTime() > now.getTime() ? l.expiresAt : now
    expiresAt = addDuration(base, parseDuration(period)!)
  }
  return await mutate(ctx, scope, input.id, { expiresAt }, 'license.renewed', {
    from: l.expiresAt?.toISOString() ?? null, to: expiresAt.toISOString(),
  })
}

export async function deleteLicense(ctx: ServiceContext, scope: LicenseScope, id: string) {
  const l = await findInScope(ctx, scope, id)
  // The event on the delete's own condition, then the outbox rows (they read the license, which is
  // gone after the delete: same transaction), then the delete.
  const event = recordEventWhere(ctx, licenseEvent('license.deleted', l, { label: l.label }), exists(ctx.db.select({ one: sql`1` }).from(licenses).where(inScope(scope, id))))
  const [, outbox, deleted] = await ctx.db.batch([
    event.insert,
    outboxInsert(ctx, { type: 'license.deleted', licenseId: id, onlyWithEvent: event.id }),
    ctx.db.delete(licenses).where(inScope(scope, id)).returning({ id: licenses.id }),
  ])
  if (!deleted[0]) throw notFound('License')
  deliverAfterCommit(ctx, outbox)
  return { ok: true }
}

/** Free a device (seat) from the web app or CLI. */
export async function freeDevice(ctx: ServiceContext, scope: LicenseScope, licenseId: string, deviceId: string) {
  const l = await findInScope(ctx, scope, licenseId)
  const [device] = await ctx.db.select({ fingerprint: devices.fingerprint, name: devices.name }).from(devices)
    .where(and(eq(devices.id, deviceId), eq(devices.licenseId, l.id))).limit(1)
  if (!device) throw notFound('Device')
  const seat = and(eq(devices.id, deviceId), eq(devices.licenseId, l.id))
  const event = recordEventWhere(ctx, { type: 'device.freed', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { deviceId } },
    exists(ctx.db.select({ one: sql`1` }).from(devices).where(seat)))
  const [, deleted, outbox] = await ctx.db.batch([
    event.insert,
    ctx.db.delete(devices).where(seat).returning({ fingerprint: devices.fingerprint }),
    // For webhook receivers a device freed by its owner is a deactivation too.
    outboxInsert(ctx, { type: 'device.deactivated', licenseId: l.id, data: { device: { id: deviceId, ...device }, freedBy: 'owner' }, onlyWithEvent: event.id }),
  ])
  if (!deleted[0]) throw notFound('Device')
  deliverAfterCommit(ctx, outbox)
  return { ok: true }
}

/**
 * Key-secret rotation (docs/keys.md): with the new secrets in KEY_HMAC_SECRET / KEY_ENC_SECRET and
 * the old ones in the *_PREVIOUS variables, rewrite every license's digest and ciphertext under the
 * new secrets, in bounded batches. Idempotent; lookups keep working throughout (both digests are
 * tried in the same indexed read), and the *_PREVIOUS secrets can be removed once it reports 0 left.
 */
export async function rotateKeySecrets(ctx: ServiceContext, batchSize = 50) {
  let rewritten = 0
  let after = ''
  for (;;) {
    const page = await ctx.db.select({ id: licenses.id, keyDigest: licenses.keyDigest, keyCiphertext: licenses.keyCiphertext })
      .from(licenses).where(gt(licenses.id, after)).orderBy(licenses.id).limit(batchSize)
    if (page.length === 0) break
    after = page.at(-1)!.id
    const updates = []
    for (const l of page) {
      const body = await decryptWithRotation(ctx, l.keyCiphertext)
      const digest = await keyDigest(ctx.env.KEY_HMAC_SECRET, body)
      let stillOld = true
      try {
        stillOld = (await decryptKey(ctx.env.KEY_ENC_SECRET, l.keyCiphertext)) !== body
      }
      catch { /* encrypted under the previous secret */ }
      if (digest === l.keyDigest && !stillOld) continue
      updates.push(ctx.db.update(licenses).set({ keyDigest: digest, keyCiphertext: await encryptKey(ctx.env.KEY_ENC_SECRET, body) }).where(eq(licenses.id, l.id)))
    }
    if (updates.length) {
      await ctx.db.batch(updates as [typeof updates[number], ...typeof updates])
      rewritten += updates.length
    }
  }
  if (rewritten) await recordEvent(ctx, { type: 'license.keys_rotated', outcome: 'success', detail: { rewritten } })
  return { rewritten }
}
