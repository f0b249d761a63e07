import { and, eq, exists, gt, isNull, or, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import { activations, devices, licenses } from '../../db/schema'
import { insertRowWhere } from '../lib/insert-where'
import { activateCode, activationWindowStart, graceEndOf, heartbeatCode, leaseEndOf, trialExpiryOf, verifyCode, type ActivateCode, type HeartbeatCode, type Snapshot, type VerifyCode } from '../lib/policies'
import { keyDigest, normalizeKey } from '../lib/keys'
import { rateLimitedError, rateLimitSettings, type UserAdmission } from '../lib/rate-limit'
import type { IpState } from '../durable/rate-limiter'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { recordEventSoon, recordEventWhere } from './events'
import { finishAnswer, type AnswerOptions, type PublicLicense } from './signed-answers'
import { deliverAfterCommit, outboxInsert, subscribedSql } from './webhook-outbox'
import { recordDeviceLimitReached } from './limit-events'

/**
 * The public API's logic (verify / activate / deactivate / heartbeat), shared by the REST routes.
 * Outcomes are business codes, never HTTP errors, decided by the pure rules of server/lib/policies.ts
 * from what ONE indexed read returned (activate and heartbeat add one conditional write). Responses
 * never carry the owner, an id, or the key.
 */
export type { ActivateCode, HeartbeatCode, VerifyCode }
export type DeactivateCode = 'DEACTIVATED' | 'DEVICE_NOT_ACTIVATED' | 'NOT_FOUND' | 'PRODUCT_MISMATCH'

interface Found {
  id: string
  ownerId: string
  status: 'active' | 'suspended'
  expiresAt: Date | null
  graceEndsAt: Date | null
  /** The grace duration (a trial's first activation sets graceEndsAt from it). */
  grace: string | null
  maxDevices: number | null
  metadata: Record<string, unknown>
  /** Devices holding a seat now (a lapsed lease holds none). */
  used: number
  /** The fingerprint holds a seat now. */
  hasDevice: number
  /** The owner's per-minute limit (null: the installation default). */
  limit: number | null
  /** The owner has an enabled endpoint subscribed to license.validated (webhooks). */
  validatedHooks: number
  /** The slug of the license's product (null: none). */
  productSlug: string | null
  // Policies (docs/policies.md), from the same row.
  expiresAfterActivation: string | null
  activationLimitCount: number | null
  activationLimitPeriod: string | null
  leaseDuration: string | null
}

/** The rate limits a REST call is subject to (server/lib/rate-limit.ts); absent for internal callers. */
export interface CallLimiter {
  admit: (ownerId: string, perWindow: number | null) => Promise<UserAdmission>
  /** Throws RATE_LIMITED when the IP is already blocked. */
  notFound: () => Promise<IpState>
  /** This caller's IP used this license's key (counted for license.anomaly off the response path). */
  sighting?: (licenseId: string, ownerId: string, at: number) => void
}

/**
 * The license behind key digests, with its device count and whether `fingerprint` is active: ONE
 * indexed read. Every column is aliased to its Found name, so rows are read by name.
 */
export function lookupQuery(db: ServiceContext['db'], digests: string[], fingerprint: string | undefined, now: number | string = Date.now()) {
  // A device holds a seat unless its lease has lapsed (devices_license_fingerprint_lease_idx covers both).
  const live = sql`(d.lease_expires_at is null or d.lease_expires_at > ${now})`
  return db.select({
    id: sql<string>`${licenses.id}`.as('id'),
    ownerId: sql<string>`${licenses.ownerId}`.as('ownerId'),
    status: sql<Found['status']>`${licenses.status}`.as('status'),
    expiresAt: sql<number | null>`${licenses.expiresAt}`.as('expiresAt'),
    graceEndsAt: sql<number | null>`${licenses.graceEndsAt}`.as('graceEndsAt'),
    grace: sql<string | null>`${licenses.grace}`.as('grace'),
    maxDevices: sql<number | null>`${licenses.maxDevices}`.as('maxDevices'),
    metadata: sql<string>`${licenses.metadata}`.as('metadata'),
    used: sql<number>`(select count(*) from devices d where d.license_id = licenses.id and ${live})`.as('used'),
    hasDevice: fingerprint === undefined
      ? sql<number>`0`.as('hasDevice')
      : sql<number>`exists(select 1 from devices d where d.license_id = licenses.id and d.fingerprint = ${fingerprint} and ${live})`.as('hasDevice'),
    limit: sql<number | null>`(select u.verify_limit_per_minute from users u where u.id = licenses.owner_id)`.as('limit'),
    validatedHooks: sql<number>`exists(select 1 from webhook_endpoints e where e.owner_id = licenses.owner_id and ${subscribedSql('license.validated')})`.as('validatedHooks'),
    // By primary key, inside the same statement: PRODUCT_MISMATCH costs no extra read.
    productSlug: sql<string | null>`(select p.slug from products p where p.id = licenses.product_id)`.as('productSlug'),
    expiresAfterActivation: sql<string | null>`${licenses.expiresAfterActivation}`.as('expiresAfterActivation'),
    activationLimitCount: sql<number | null>`${licenses.activationLimitCount}`.as('activationLimitCount'),
    activationLimitPeriod: sql<string | null>`${licenses.activationLimitPeriod}`.as('activationLimitPeriod'),
    leaseDuration: sql<string | null>`${licenses.leaseDuration}`.as('leaseDuration'),
  }).from(licenses).where(digests.length === 1 ? eq(licenses.keyDigest, digests[0]!) : sql`${licenses.keyDigest} in (${digests[0]}, ${digests[1]})`).limit(1)
}

/** A lookup row as D1 returns it: lookupQuery's aliases, values as stored. */
type LookupRow = { [K in keyof Found]: K extends 'expiresAt' | 'graceEndsAt' ? number | null : K extends 'metadata' ? string : Found[K] }

/**
 * The lookup's SQL for one shape (1 or 2 digests, with or without a fingerprint), built once by
 * Drizzle from lookupQuery with marker values and then run as a plain D1 prepared statement: the
 * same SQL, without building the query and mapping rows through the ORM on every call.
 */
const MARK = { d0: '\u0000d0', d1: '\u0000d1', fp: '\u0000fp', now: '\u0000now' } as const
type Slot = keyof typeof MARK | { value: unknown }
const shapes = new Map<string, { sql: string, slots: Slot[] }>()

function lookupShape(db: ServiceContext['db'], digests: number, withFingerprint: boolean) {
  const id = `${digests}${withFingerprint ? 'f' : ''}`
  let shape = shapes.get(id)
  if (!shape) {
    const q = lookupQuery(db, digests === 1 ? [MARK.d0] : [MARK.d0, MARK.d1], withFingerprint ? MARK.fp : undefined, MARK.now).toSQL()
    const byMark = new Map<unknown, Slot>(Object.entries(MARK).map(([k, v]) => [v, k as keyof typeof MARK]))
    shape = { sql: q.sql, slots: q.params.map(p => byMark.get(p) ?? { value: p }) }
    shapes.set(id, shape)
  }
  return shape
}

async function find(ctx: ServiceContext, key: string, fingerprint: string | undefined, now: Date): Promise<Found | null> {
  const body = normalizeKey(key)
  if (!body) return null // wrong length, alphabet or check symbol: no database read
  const d0 = await keyDigest(ctx.env.KEY_HMAC_SECRET, body)
  // During a key-secret rotation both digests are looked up, still in one indexed read (docs/keys.md).
  const d1 = ctx.env.KEY_HMAC_SECRET_PREVIOUS ? await keyDigest(ctx.env.KEY_HMAC_SECRET_PREVIOUS, body) : undefined
  const shape = lookupShape(ctx.db, d1 === undefined ? 1 : 2, fingerprint !== undefined)
  const values = { d0, d1, fp: fingerprint, now: now.getTime() }
  const params = shape.slots.map(s => (typeof s === 'string' ? values[s] : s.value))
  const r = await ctx.env.DB.prepare(shape.sql).bind(...params).first<LookupRow>()
  if (!r) return null
  return {
    ...r,
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt),
    graceEndsAt: r.graceEndsAt === null ? null : new Date(r.graceEndsAt),
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  }
}

/**
 * The license behind a key, with the rate limits applied: a found license counts against its
 * owner's limit (429 when over it, before any change is made); a NOT_FOUND counts against the
 * caller's IP (brute-force guard). Refusals and blocks are recorded once, not per call.
 */
async function lookup(ctx: ServiceContext, route: string, key: string, fingerprint: string | undefined, now: Date, limiter?: CallLimiter): Promise<Found | null> {
  const l = await find(ctx, key, fingerprint, now)
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
  // Distinct IPs per license, counted in the rate limiter (license.anomaly), off the response path.
  if (route === 'verify') limiter.sighting?.(l.id, l.ownerId, now.getTime())
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

/** What the lookup read, as the pure rules take it (server/lib/policies.ts). */
function snapshot(l: Found, over: Partial<Snapshot> = {}): Snapshot {
  const limit = l.activationLimitCount && l.activationLimitPeriod ? { count: l.activationLimitCount, period: l.activationLimitPeriod } : null
  return {
    status: l.status,
    expiresAt: l.expiresAt,
    graceEndsAt: l.graceEndsAt,
    maxDevices: l.maxDevices,
    productSlug: l.productSlug,
    used: l.used,
    hasDevice: !!l.hasDevice,
    activationLimit: limit,
    recentActivations: 0,
    ...over,
  }
}

const devicesOf = (l: Found, used = l.used) => ({ used, max: l.maxDevices })
const iso = (d: Date | null) => (d ? d.toISOString() : null)
/** `graceEndsAt` only for licenses with a grace period: Part 1 answers keep their exact shape. */
const licenseOf = (l: Found, used = l.used, expiresAt = l.expiresAt, graceEndsAt = l.graceEndsAt): PublicLicense => ({
  expiresAt: iso(expiresAt),
  ...(graceEndsAt ? { graceEndsAt: iso(graceEndsAt) } : {}),
  metadata: l.metadata,
  devices: devicesOf(l, used),
})

/** The device row of this license and fingerprint, while it holds a seat. */
const seatOf = (l: Found, fingerprint: string, now: Date) => and(
  eq(devices.licenseId, l.id), eq(devices.fingerprint, fingerprint),
  or(isNull(devices.leaseExpiresAt), gt(devices.leaseExpiresAt, now)),
)

/**
 * Seen again (verify with a fingerprint, ALREADY_ACTIVATED): last seen, and a floating seat's lease
 * renewed — only while it still holds its seat (a lapsed lease must activate again). After the response.
 */
function touchDevice(ctx: ServiceContext, l: Found, fingerprint: string, now: Date) {
  const lease = leaseEndOf(l.leaseDuration, now)
  ctx.waitUntil(ctx.db.update(devices).set({ lastSeenAt: now, ip: ctx.audit.ip || null, ...(lease ? { leaseExpiresAt: lease } : {}) })
    .where(seatOf(l, fingerprint, now)).run())
}

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
  const validation = { code, valid: code === 'VALID' || code === 'GRACE_PERIOD', fingerprint: (detail?.fingerprint as string | undefined) ?? null }
  recordEventSoon(ctx, input, {
    statement: outboxInsert(ctx, { type: 'license.validated', licenseId: l.id, data: { validation } }),
    after: (flushCtx, rows) => deliverAfterCommit(flushCtx, rows as { id: string }[]),
  })
}

const fpDetail = (fingerprint: string | undefined) => (fingerprint !== undefined ? { fingerprint: fingerprint.slice(0, 64) } : undefined)

export async function verifyLicense(ctx: ServiceContext, input: { key: string, fingerprint?: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, 'verify', input.key, input.fingerprint, now, limiter)
  if (!l) {
    recordCall(ctx, 'verify', 'NOT_FOUND', null)
    return await finishAnswer(ctx, input, { valid: false, status: 'inactive' as const, code: 'NOT_FOUND' as VerifyCode }, null)
  }
  const code = verifyCode(snapshot(l), input, now)
  if (code === 'PRODUCT_MISMATCH') {
    recordCall(ctx, 'verify', code, l, mismatchDetail(input.product!))
    return await finishAnswer(ctx, input, { valid: false, status: 'inactive' as const, code }, null)
  }
  recordCall(ctx, 'verify', code, l, fpDetail(input.fingerprint))
  // A verify with the fingerprint renews a floating seat's lease too (after the response).
  if (input.fingerprint !== undefined && l.hasDevice && l.leaseDuration && (code === 'VALID' || code === 'GRACE_PERIOD')) touchDevice(ctx, l, input.fingerprint, now)
  const valid = code === 'VALID' || code === 'GRACE_PERIOD'
  const license = licenseOf(l)
  return await finishAnswer(ctx, input, { valid, status: valid ? 'active' as const : 'inactive' as const, code, license }, { valid, license, product: l.productSlug })
}

export async function activateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, name?: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, 'activate', input.key, input.fingerprint, now, limiter)
  if (!l) {
    recordCall(ctx, 'activate', 'NOT_FOUND', null)
    return await finishAnswer(ctx, input, { activated: false, code: 'NOT_FOUND' as ActivateCode }, null)
  }
  // Everything the lookup decides; the churn and seat limits are decided by the conditional write.
  const early = activateCode(snapshot(l, { maxDevices: null, activationLimit: null }), input, now)
  if (early === 'PRODUCT_MISMATCH') {
    recordCall(ctx, 'activate', early, l, mismatchDetail(input.product!))
    return await finishAnswer(ctx, input, { activated: false, code: early }, null)
  }
  if (early === 'SUSPENDED' || early === 'EXPIRED') {
    recordCall(ctx, 'activate', early, l)
    return await finishAnswer(ctx, input, { activated: false, code: early, devices: devicesOf(l) }, { valid: false, license: licenseOf(l), product: l.productSlug })
  }
  if (early === 'ALREADY_ACTIVATED') {
    touchDevice(ctx, l, input.fingerprint, now)
    recordCall(ctx, 'activate', early, l, fpDetail(input.fingerprint))
    return await finishAnswer(ctx, input, { activated: true, code: early, devices: devicesOf(l) }, { valid: true, license: licenseOf(l), product: l.productSlug })
  }
  return await activateNew(ctx, l, input, now)
}

/**
 * A new seat, race-free in ONE batch (one transaction; D1 runs statements one at a time): the device
 * is inserted — or a lapsed lease of the same fingerprint taken again — only if, when the statement
 * runs, the license is active and unexpired, fewer devices than maxDevices hold a seat, and fewer than
 * the churn limit's count were activated in its trailing period. The same batch records the
 * activation, starts a trial's clock (only if still unset: two first activations set it once), writes
 * the event and webhooks (only with the device), and reads the state that decides the refusal code.
 */
async function activateNew(ctx: ServiceContext, l: Found, input: { key: string, fingerprint: string, name?: string } & AnswerOptions, now: Date) {
  const lease = leaseEndOf(l.leaseDuration, now)
  const device = { id: newId('dev'), licenseId: l.id, fingerprint: input.fingerprint, name: input.name ?? null, ip: ctx.audit.ip || null, firstSeenAt: now, lastSeenAt: now, leaseExpiresAt: lease }
  const ms = now.getTime()
  const since = l.activationLimitPeriod ? activationWindowStart(l.activationLimitPeriod, now).getTime() : ms
  const liveCount = sql`(select count(*) from devices d where d.license_id = ${l.id} and (d.lease_expires_at is null or d.lease_expires_at > ${ms}))`
  const recentCount = sql`(select count(*) from activations a where a.license_id = ${l.id} and a.created_at > ${since})`
  const seatFree = exists(ctx.db.select({ one: sql`1` }).from(licenses).where(and(
    eq(licenses.id, l.id), eq(licenses.status, 'active'),
    or(isNull(licenses.expiresAt), gt(licenses.expiresAt, now)),
    or(isNull(licenses.maxDevices), sql`${liveCount} < ${licenses.maxDevices}`),
    or(isNull(licenses.activationLimitCount), sql`${recentCount} < ${licenses.activationLimitCount}`),
  )))
  // The event, the activation record, the trial's start and the webhooks exist only if this very device row was written.
  const inserted = exists(ctx.db.select({ one: sql`1` }).from(devices).where(eq(devices.id, device.id)))
  const trialEnd = l.expiresAfterActivation && l.expiresAt === null ? trialExpiryOf(l.expiresAfterActivation, now) : null
  const event = recordEventWhere(ctx, { type: 'device.activated', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { deviceId: device.id, fingerprint: input.fingerprint.slice(0, 64), name: device.name, ...(trialEnd ? { trialStarted: true } : {}) } }, inserted)
  const statements: BatchItem<'sqlite'>[] = [
    insertRowWhere(ctx.db, devices, device, seatFree).onConflictDoUpdate({
      target: [devices.licenseId, devices.fingerprint],
      // A lapsed lease of this fingerprint is taken again as a new device row; a live one is left alone.
      set: { id: device.id, name: device.name, ip: device.ip, firstSeenAt: now, lastSeenAt: now, leaseExpiresAt: lease },
      setWhere: sql`${devices.leaseExpiresAt} is not null and ${devices.leaseExpiresAt} <= ${ms}`,
    }).returning({ id: devices.id }),
  ]
  // Only what this license's policies need: a license without them costs what it did before.
  if (trialEnd) {
    statements.push(ctx.db.update(licenses).set({ expiresAt: trialEnd, graceEndsAt: graceEndOf(trialEnd, l.grace), updatedAt: now })
      .where(and(eq(licenses.id, l.id), isNull(licenses.expiresAt), inserted)))
  }
  if (l.activationLimitCount) statements.push(insertRowWhere(ctx.db, activations, { id: newId('act'), licenseId: l.id, createdAt: now }, inserted))
  const outboxAt = statements.push(event.insert, outboxInsert(ctx, { type: 'device.activated', licenseId: l.id, data: { device: { id: device.id, fingerprint: input.fingerprint, name: device.name } }, onlyWithEvent: event.id })) - 1
  // Aliased: D1 returns rows keyed by column name, so two unnamed `null` columns would collide.
  statements.push(ctx.db.select({
    used: sql<number>`${liveCount}`.as('used'),
    hasDevice: sql<number>`exists(select 1 from devices d where d.license_id = ${l.id} and d.fingerprint = ${input.fingerprint} and (d.lease_expires_at is null or d.lease_expires_at > ${ms}))`.as('has_device'),
    recent: (l.activationLimitCount ? sql<number>`${recentCount}` : sql<number>`0`).as('recent'),
    expiresAt: (trialEnd ? sql<number | null>`(select expires_at from licenses where id = ${l.id})` : sql<null>`null`).as('expires_at'),
    graceEndsAt: (trialEnd ? sql<number | null>`(select grace_ends_at from licenses where id = ${l.id})` : sql<null>`null`).as('grace_ends_at'),
  }).from(sql`(select 1)`))
  const results = await ctx.db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  const added = results[0] as { id: string }[]
  const outbox = results[outboxAt] as { id: string }[]
  const state = results.at(-1) as { used: number, hasDevice: number, recent: number, expiresAt: number | null, graceEndsAt: number | null }[]
  deliverAfterCommit(ctx, outbox)
  const after = state[0] ?? { used: l.used, hasDevice: 0, recent: 0, expiresAt: null, graceEndsAt: null }
  // A trial's clock as the batch left it (set by this call or a concurrent first activation).
  const expiresAt = trialEnd && after.expiresAt != null ? new Date(Number(after.expiresAt)) : l.expiresAt
  const graceEndsAt = trialEnd && after.graceEndsAt != null ? new Date(Number(after.graceEndsAt)) : l.graceEndsAt
  let code: ActivateCode = 'ACTIVATED'
  if (added.length === 0) {
    code = activateCode(snapshot(l, { used: after.used, hasDevice: !!after.hasDevice, recentActivations: after.recent }), {}, now)
    // Changed meanwhile (suspended, expired, or the count moved back): still not activated here.
    if (code === 'ACTIVATED') code = 'DEVICE_LIMIT_REACHED'
  }
  recordCall(ctx, 'activate', code, l, fpDetail(input.fingerprint))
  if (code === 'DEVICE_LIMIT_REACHED') recordDeviceLimitReached(ctx, { id: l.id, ownerId: l.ownerId, maxDevices: l.maxDevices, used: after.used })
  const activated = code === 'ACTIVATED' || code === 'ALREADY_ACTIVATED'
  const license = licenseOf(l, after.used, expiresAt, graceEndsAt)
  return await finishAnswer(ctx, input, { activated, code, devices: devicesOf(l, after.used) }, { valid: activated, license, product: l.productSlug })
}

export async function deactivateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const answer = <T extends { code: string }>(body: T) => finishAnswer(ctx, { ...input, signed: false }, body, null)
  const l = await lookup(ctx, 'deactivate', input.key, input.fingerprint, now, limiter)
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
  const seat = seatOf(l, input.fingerprint, now)
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
  recordCall(ctx, 'deactivate', code, l, fpDetail(input.fingerprint))
  return await answer({ deactivated: deleted.length > 0, code, devices: devicesOf(l, deleted.length > 0 ? l.used - 1 : l.used) })
}

/**
 * Heartbeat (floating seats): renew this device's lease — one conditional UPDATE that acts only while
 * the lease still holds its seat, so a lapsed one stays lapsed (DEVICE_NOT_ACTIVATED: activate again).
 * On a license without leases it answers ALIVE for an activated device, with `leaseExpiresAt: null`.
 */
export async function heartbeatDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, product?: string } & AnswerOptions, limiter?: CallLimiter) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, 'heartbeat', input.key, input.fingerprint, now, limiter)
  if (!l) {
    recordCall(ctx, 'heartbeat', 'NOT_FOUND', null)
    return await finishAnswer(ctx, input, { alive: false, code: 'NOT_FOUND' as HeartbeatCode }, null)
  }
  let code = heartbeatCode(snapshot(l), input, now)
  if (code === 'PRODUCT_MISMATCH') {
    recordCall(ctx, 'heartbeat', code, l, mismatchDetail(input.product!))
    return await finishAnswer(ctx, input, { alive: false, code }, null)
  }
  let leaseExpiresAt: Date | null = null
  let used = l.used
  if (code === 'ALIVE') {
    const lease = leaseEndOf(l.leaseDuration, now)
    if (lease) {
      const renewed = await ctx.db.update(devices).set({ lastSeenAt: now, ip: ctx.audit.ip || null, leaseExpiresAt: lease })
        .where(seatOf(l, input.fingerprint, now)).returning({ leaseExpiresAt: devices.leaseExpiresAt })
      if (renewed[0]) leaseExpiresAt = renewed[0].leaseExpiresAt
      else {
        code = 'DEVICE_NOT_ACTIVATED' // lapsed or freed a moment ago
        used = Math.max(0, used - 1)
      }
    }
    else touchDevice(ctx, l, input.fingerprint, now)
  }
  recordCall(ctx, 'heartbeat', code, l, fpDetail(input.fingerprint))
  const alive = code === 'ALIVE'
  const license = licenseOf(l, used)
  return await finishAnswer(ctx, input, { alive, code, leaseExpiresAt: iso(leaseExpiresAt), devices: devicesOf(l, used) }, { valid: alive, license, product: l.productSlug })
}
