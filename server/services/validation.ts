import { and, eq, exists, gt, isNull, or, sql } from 'drizzle-orm'
import { devices, licenses } from '../../db/schema'
import { insertRowWhere } from '../lib/insert-where'
import { keyDigest, normalizeKey } from '../lib/keys'
import { rateLimitedError, rateLimitSettings, type UserAdmission } from '../lib/rate-limit'
import type { IpState } from '../durable/rate-limiter'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { recordEventSoon, recordEventWhere } from './events'
import { finishAnswer, type AnswerOptions, type PublicLicense } from './signed-answers'
import { deliverAfterCommit, outboxInsert, subscribedSql } from './webhook-outbox'

/**
 * The public API's logic (verify / activate / deactivate), shared by the REST routes. Outcomes are
 * business codes, never HTTP errors. Responses never carry the owner, an id, or the key.
 */
export type VerifyCode = 'VALID' | 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED' | 'DEVICE_NOT_ACTIVATED'
export type ActivateCode = 'ACTIVATED' | 'ALREADY_ACTIVATED' | 'DEVICE_LIMIT_REACHED' | 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED'
export type DeactivateCode = 'DEACTIVATED' | 'DEVICE_NOT_ACTIVATED' | 'NOT_FOUND' | 'PRODUCT_MISMATCH'

interface Found {
  id: string
  ownerId: string
  status: 'active' | 'suspended'
  expiresAt: Date | null
  maxDevices: number | null
  metadata: Record<string, unknown>
  used: number
  hasDevice: number
  /** The owner's per-minute limit (null: the installation default). */
  limit: number | null
  /** The owner has an enabled endpoint subscribed to license.validated (webhooks). */
  validatedHooks: number
  /** The slug of the license's product (null: none). */
  productSlug: string | null
}

/** The rate limits a REST call is subject to (server/lib/rate-limit.ts); absent for internal callers. */
export interface CallLimiter {
  admit: (ownerId: string, perWindow: number | null) => Promise<UserAdmission>
  /** Throws RATE_LIMITED when the IP is already blocked. */
  notFound: () => Promise<IpState>
}

/**
 * The license behind key digests, with its device count and whether `fingerprint` is active: ONE
 * indexed read. Every column is aliased to its Found name, so rows are read by name.
 */
export function lookupQuery(db: ServiceContext['db'], digests: string[], fingerprint: string | undefined) {
  return db.select({
    id: sql<string>`${licenses.id}`.as('id'),
    ownerId: sql<string>`${licenses.ownerId}`.as('ownerId'),
    status: sql<Found['status']>`${licenses.status}`.as('status'),
    expiresAt: sql<number | null>`${licenses.expiresAt}`.as('expiresAt'),
    maxDevices: sql<number | null>`${licenses.maxDevices}`.as('maxDevices'),
    metadata: sql<string>`${licenses.metadata}`.as('metadata'),
    used: sql<number>`(select count(*) from devices d where d.license_id = licenses.id)`.as('used'),
    hasDevice: fingerprint === undefined
      ? sql<number>`0`.as('hasDevice')
      : sql<number>`exists(select 1 from devices d where d.license_id = licenses.id and d.fingerprint = ${fingerprint})`.as('hasDevice'),
    limit: sql<number | null>`(select u.verify_limit_per_minute from users u where u.id = licenses.owner_id)`.as('limit'),
    validatedHooks: sql<number>`exists(select 1 from webhook_endpoints e where e.owner_id = licenses.owner_id and ${subscribedSql('license.validated')})`.as('validatedHooks'),
    // By primary key, inside the same statement: PRODUCT_MISMATCH costs no extra read.
    productSlug: sql<string | null>`(select p.slug from products p where p.id = licenses.product_id)`.as('productSlug'),
  }).from(licenses).where(digests.length === 1 ? eq(licenses.keyDigest, digests[0]!) : sql`${licenses.keyDigest} in (${digests[0]}, ${digests[1]})`).limit(1)
}

/** A lookup row as D1 returns it: lookupQuery's aliases, values as stored. */
type LookupRow = { [K in keyof Found]: K extends 'expiresAt' ? number | null : K extends 'metadata' ? string : Found[K] }

/**
 * The lookup's SQL for one shape (1 or 2 digests, with or without a fingerprint), built once by
 * Drizzle from lookupQuery with marker values and then run as a plain D1 prepared statement: the
 * same SQL, without building the query and mapping rows through the ORM on every call.
 */
const MARK = { d0: '\u0000d0', d1: '\u0000d1', fp: '\u0000fp' } as const
type Slot = keyof typeof MARK | { value: unknown }
const shapes = new Map<string, { sql: string, slots: Slot[] }>()

function lookupShape(db: ServiceContext['db'], digests: number, withFingerprint: boolean) {
  const id = `${digests}${withFingerprint ? 'f' : ''}`
  let shape = shapes.get(id)
  if (!shape) {
    const q = lookupQuery(db, digests === 1 ? [MARK.d0] : [MARK.d0, MARK.d1], withFingerprint ? MARK.fp : undefined).toSQL()
    const byMark = new Map<unknown, Slot>(Object.entries(MARK).map(([k, v]) => [v, k as keyof typeof MARK]))
    shape = { sql: q.sql, slots: q.params.map(p => byMark.get(p) ?? { value: p }) }
    shapes.set(id, shape)
  }
  return shape
}

async function find(ctx: ServiceContext, key: string, fingerprint: string | undefined): Promise<Found | null> {
  const body = normalizeKey(key)
  if (!body) return null // wrong length, alphabet or check symbol: no database read
  const d0 = await keyDigest(ctx.env.KEY_HMAC_SECRET, body)
  // During a key-secret rotation both digests are looked up, still in one indexed read (docs/keys.md).
  const d1 = ctx.env.KEY_HMAC_SECRET_PREVIOUS ? await keyDigest(ctx.env.KEY_HMAC_SECRET_PREVIOUS, body) : undefined
  const shape = lookupShape(ctx.db, d1 === undefined ? 1 : 2, fingerprint !== undefined)
  const values = { d0, d1, fp: fingerprint }
  const params = shape.slots.map(s => (typeof s === 'string' ? values[s] : s.value))
  const r = await ctx.env.DB.prepare(shape.sql).bind(...params).first<LookupRow>()
  if (!r) return null
  return { ...r, expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt), metadata: JSON.parse(r.metadata) as Record<string, unknown> }
}

/**
 * The license behind a key, with the rate limits applied: a found license counts against its
 * owner's limit (429 when over it, before any change is made); a NOT_FOUND counts against the
 * caller's IP (brute-force guard). Refusals and blocks are recorded once, not per call.
 */
async function lookup(ctx: ServiceContext, route: string, key: string, fingerprint: string | undefined, limiter?: CallLimiter): Promise<Found | null> {
  const l = await find(ctx, key, fingerprint)
  if (!limiter) return l
  if (!l) {
    const s = await limiter.notFound()
    if (s.justBlocked) {
      recordEventSoon(ctx, {
        type: 'validation.ip_blocked',
        outcome: 'BLOCKED',
        detail: { route, notFoundAnswers: s.count, windowSeconds: rateLimitSettings(ctx.env).notFoundWindowSeconds, blockedUntil: new Date(s.resetAt).toISOString() },
      })
    }
    return null
  }
  const a = await limiter.admit(l.ownerId, l.limit)
  if (!a.allowed) {
    if (a.firstRefusal) {
      recordEventSoon(ctx, {
        type: 'validation.rate_limited',
        outcome: 'RATE_LIMITED',
        subjectType: 'license',
        subjectId: l.id,
        ownerId: l.ownerId,
        detail: { route, limit: a.state.limit, windowSeconds: a.state.windowSeconds },
      })
    }
    throw rateLimitedError(a.state, `Rate limit of ${a.state.limit} calls per ${a.state.windowSeconds} s reached for this developer's keys`)
  }
  return l
}

/** The caller named a product (its slug) and the license is not for it (another product, or none). */
const productMismatch = (l: Found, product: string | undefined) => product !== undefined && l.productSlug !== product

/** A mismatch answers nothing about the license (no `license`, no `devices`) and changes nothing. */
const mismatchDetail = (product: string) => ({ product: product.slice(0, 64) })

function stateOf(l: Found, now: Date): 'SUSPENDED' | 'EXPIRED' | null {
  if (l.status === 'suspended') return 'SUSPENDED'
  if (l.expiresAt !== null && l.expiresAt.getTime() <= now.getTime()) return 'EXPIRED'
  return null
}

const devicesOf = (l: Found, used = l.used) => ({ used, max: l.maxDevices })
const licenseOf = (l: Found, used = l.used): PublicLicense => ({ expiresAt: l.expiresAt ? l.expiresAt.toISOString() : null, metadata: l.metadata, devices: devicesOf(l, used) })

/**
 * The API call as an audit event, written after the response and batched with other calls'
 * (recordEventSoon). A verify of an existing license whose owner has an endpoint subscribed to
 * license.validated (known from the lookup) also writes those outbox rows in the same batch, and
 * their first attempt follows — all off the response path.
 */
function recordCall(ctx: ServiceContext, route: string, code: string, l: Found | null, detail?: Record<string, unknown>) {
  const input = {
    type: `validation.${route}`,
    outcome: code,
    subjectType: l ? 'license' : null,
    subjectId: l?.id ?? null,
    ownerId: l?.ownerId ?? null,
    detail: detail ?? null,
  }
  if (route !== 'verify' || !l?.validatedHooks) {
    recordEventSoon(ctx, input)
    return
  }
  const validation = { code, valid: code === 'VALID', fingerprint: (detail?.fingerprint as string | undefined) ?? null }
  recordEventSoon(ctx, input, {
    statement: outboxInsert(ctx, { type: 'license.validated', licenseId: l.id, data: { validation } }),
    after: (flushCtx, rows) => deliverAfterCommit(flushCtx, rows as { id: string }[]),
  })
}

export async function verifyLicense(ctx: ServiceContext, input: { key: string, fingerprint?: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, 'verify', input.key, input.fingerprint, limiter)
  if (!l) {
    recordCall(ctx, 'verify', 'NOT_FOUND', null)
    return await finishAnswer(ctx, input, { valid: false, status: 'inactive' as const, code: 'NOT_FOUND' as VerifyCode }, null)
  }
  if (productMismatch(l, input.product)) {
    recordCall(ctx, 'verify', 'PRODUCT_MISMATCH', l, mismatchDetail(input.product!))
    return await finishAnswer(ctx, input, { valid: false, status: 'inactive' as const, code: 'PRODUCT_MISMATCH' as VerifyCode }, null)
  }
  const code: VerifyCode = stateOf(l, now) ?? (input.fingerprint !== undefined && !l.hasDevice ? 'DEVICE_NOT_ACTIVATED' : 'VALID')
  recordCall(ctx, 'verify', code, l, input.fingerprint !== undefined ? { fingerprint: input.fingerprint.slice(0, 64) } : undefined)
  const valid = code === 'VALID'
  const license = licenseOf(l)
  return await finishAnswer(ctx, input, { valid, status: valid ? 'active' as const : 'inactive' as const, code, license }, { valid, license, product: l.productSlug })
}

export async function activateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, name?: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, 'activate', input.key, input.fingerprint, limiter)
  if (!l) {
    recordCall(ctx, 'activate', 'NOT_FOUND', null)
    return await finishAnswer(ctx, input, { activated: false, code: 'NOT_FOUND' as ActivateCode }, null)
  }
  if (productMismatch(l, input.product)) {
    recordCall(ctx, 'activate', 'PRODUCT_MISMATCH', l, mismatchDetail(input.product!))
    return await finishAnswer(ctx, input, { activated: false, code: 'PRODUCT_MISMATCH' as ActivateCode }, null)
  }
  const blocked = stateOf(l, now)
  if (blocked) {
    recordCall(ctx, 'activate', blocked, l)
    return await finishAnswer(ctx, input, { activated: false, code: blocked as ActivateCode, devices: devicesOf(l) }, { valid: false, license: licenseOf(l), product: l.productSlug })
  }
  if (l.hasDevice) {
    ctx.waitUntil(ctx.db.update(devices).set({ lastSeenAt: now, ip: ctx.audit.ip || null })
      .where(and(eq(devices.licenseId, l.id), eq(devices.fingerprint, input.fingerprint))).run())
    recordCall(ctx, 'activate', 'ALREADY_ACTIVATED', l, { fingerprint: input.fingerprint.slice(0, 64) })
    return await finishAnswer(ctx, input, { activated: true, code: 'ALREADY_ACTIVATED' as ActivateCode, devices: devicesOf(l) }, { valid: true, license: licenseOf(l), product: l.productSlug })
  }
  // Race-free: the seat check and the insert are one statement, and D1 runs statements one at a time.
  const device = { id: newId('dev'), licenseId: l.id, fingerprint: input.fingerprint, name: input.name ?? null, ip: ctx.audit.ip || null, firstSeenAt: now, lastSeenAt: now }
  const seatFree = exists(ctx.db.select({ one: sql`1` }).from(licenses).where(and(
    eq(licenses.id, l.id), eq(licenses.status, 'active'),
    or(isNull(licenses.expiresAt), gt(licenses.expiresAt, now)),
    or(isNull(licenses.maxDevices), sql`(select count(*) from devices d where d.license_id = ${l.id}) < ${licenses.maxDevices}`),
  )))
  // The event and its webhooks exist only if this very device row was inserted.
  const inserted = exists(ctx.db.select({ one: sql`1` }).from(devices).where(eq(devices.id, device.id)))
  const event = recordEventWhere(ctx, { type: 'device.activated', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { deviceId: device.id, fingerprint: input.fingerprint.slice(0, 64), name: device.name } }, inserted)
  const [added, , outbox, state] = await ctx.db.batch([
    insertRowWhere(ctx.db, devices, device, seatFree).onConflictDoNothing().returning({ id: devices.id }),
    event.insert,
    outboxInsert(ctx, { type: 'device.activated', licenseId: l.id, data: { device: { id: device.id, fingerprint: input.fingerprint, name: device.name } }, onlyWithEvent: event.id }),
    ctx.db.select({
      used: sql<number>`(select count(*) from devices d where d.license_id = ${l.id})`,
      hasDevice: sql<number>`exists(select 1 from devices d where d.license_id = ${l.id} and d.fingerprint = ${input.fingerprint})`,
    }).from(sql`(select 1)`),
  ])
  deliverAfterCommit(ctx, outbox)
  const after = state[0] ?? { used: l.used, hasDevice: 0 }
  const code: ActivateCode = added.length > 0 ? 'ACTIVATED' : after.hasDevice ? 'ALREADY_ACTIVATED' : 'DEVICE_LIMIT_REACHED'
  recordCall(ctx, 'activate', code, l, { fingerprint: input.fingerprint.slice(0, 64) })
  const activated = code !== 'DEVICE_LIMIT_REACHED'
  return await finishAnswer(ctx, input, { activated, code, devices: devicesOf(l, after.used) }, { valid: activated, license: licenseOf(l, after.used), product: l.productSlug })
}

export async function deactivateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const answer = <T extends { code: string }>(body: T) => finishAnswer(ctx, { ...input, signed: false }, body, null)
  const l = await lookup(ctx, 'deactivate', input.key, input.fingerprint, limiter)
  if (!l) {
    recordCall(ctx, 'deactivate', 'NOT_FOUND', null)
    return await answer({ deactivated: false, code: 'NOT_FOUND' as DeactivateCode })
  }
  if (productMismatch(l, input.product)) {
    recordCall(ctx, 'deactivate', 'PRODUCT_MISMATCH', l, mismatchDetail(input.product!))
    return await answer({ deactivated: false, code: 'PRODUCT_MISMATCH' as DeactivateCode })
  }
  if (!l.hasDevice) {
    recordCall(ctx, 'deactivate', 'DEVICE_NOT_ACTIVATED', l)
    return await answer({ deactivated: false, code: 'DEVICE_NOT_ACTIVATED' as DeactivateCode, devices: devicesOf(l) })
  }
  const seat = and(eq(devices.licenseId, l.id), eq(devices.fingerprint, input.fingerprint))
  // The event first, on the condition the delete will act on (same transaction, same rows).
  const event = recordEventWhere(ctx, { type: 'device.deactivated', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { fingerprint: input.fingerprint.slice(0, 64) } },
    exists(ctx.db.select({ one: sql`1` }).from(devices).where(seat)))
  const [, deleted, outbox] = await ctx.db.batch([
    event.insert,
    ctx.db.delete(devices).where(seat).returning({ id: devices.id }),
    outboxInsert(ctx, { type: 'device.deactivated', licenseId: l.id, data: { device: { fingerprint: input.fingerprint } }, onlyWithEvent: event.id }),
  ])
  deliverAfterCommit(ctx, outbox)
  // Deleted here, or by a concurrent call a moment ago: either way this fingerprint no longer holds a seat.
  const code: DeactivateCode = deleted.length > 0 ? 'DEACTIVATED' : 'DEVICE_NOT_ACTIVATED'
  recordCall(ctx, 'deactivate', code, l, { fingerprint: input.fingerprint.slice(0, 64) })
  return await answer({ deactivated: deleted.length > 0, code, devices: devicesOf(l, deleted.length > 0 ? l.used - 1 : l.used) })
}
