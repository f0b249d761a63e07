import { and, eq, sql } from 'drizzle-orm'
import { devices, licenses } from '../../db/schema'
import { keyDigest, normalizeKey } from '../lib/keys'
import { newId } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { recordEvent, recordEventIfChanged } from './events'
import { deliverAfterCommit, outboxInsert } from './webhook-outbox'

/**
 * The public API's logic (verify / activate / deactivate), shared by the REST routes. Outcomes are
 * business codes, never HTTP errors. Responses never carry the owner, an id, or the key.
 */
export type VerifyCode = 'VALID' | 'NOT_FOUND' | 'SUSPENDED' | 'EXPIRED' | 'DEVICE_NOT_ACTIVATED'
export type ActivateCode = 'ACTIVATED' | 'ALREADY_ACTIVATED' | 'DEVICE_LIMIT_REACHED' | 'NOT_FOUND' | 'SUSPENDED' | 'EXPIRED'
export type DeactivateCode = 'DEACTIVATED' | 'DEVICE_NOT_ACTIVATED' | 'NOT_FOUND'

interface Found {
  id: string
  ownerId: string
  status: 'active' | 'suspended'
  expiresAt: Date | null
  maxDevices: number | null
  metadata: Record<string, unknown>
  used: number
  hasDevice: number
}

/** The licence behind key digests, with its device count and whether `fingerprint` is active: ONE indexed read. */
export function lookupQuery(db: ServiceContext['db'], digests: string[], fingerprint: string | undefined) {
  return db.select({
    id: licenses.id,
    ownerId: licenses.ownerId,
    status: licenses.status,
    expiresAt: licenses.expiresAt,
    maxDevices: licenses.maxDevices,
    metadata: licenses.metadata,
    used: sql<number>`(select count(*) from devices d where d.license_id = licenses.id)`,
    hasDevice: fingerprint === undefined
      ? sql<number>`0`
      : sql<number>`exists(select 1 from devices d where d.license_id = licenses.id and d.fingerprint = ${fingerprint})`,
  }).from(licenses).where(digests.length === 1 ? eq(licenses.keyDigest, digests[0]!) : sql`${licenses.keyDigest} in (${digests[0]}, ${digests[1]})`).limit(1)
}

async function lookup(ctx: ServiceContext, key: string, fingerprint: string | undefined): Promise<Found | null> {
  const body = normalizeKey(key)
  if (!body) return null // wrong length, alphabet or check symbol: no database read
  const digests = [await keyDigest(ctx.env.KEY_HMAC_SECRET, body)]
  // During a key-secret rotation both digests are looked up, still in one indexed read (docs/keys.md).
  if (ctx.env.KEY_HMAC_SECRET_PREVIOUS) digests.push(await keyDigest(ctx.env.KEY_HMAC_SECRET_PREVIOUS, body))
  const [row] = await lookupQuery(ctx.db, digests, fingerprint)
  return row ?? null
}

function stateOf(l: Found, now: Date): 'SUSPENDED' | 'EXPIRED' | null {
  if (l.status === 'suspended') return 'SUSPENDED'
  if (l.expiresAt !== null && l.expiresAt.getTime() <= now.getTime()) return 'EXPIRED'
  return null
}

const devicesOf = (l: Found, used = l.used) => ({ used, max: l.maxDevices })

/**
 * The API call as an audit event, written after the response (waitUntil). A verify of an existing
 * licence also writes license.validated outbox rows (endpoints that subscribed to it explicitly) in
 * the same batch, and their first attempt follows — all off the response path.
 */
function recordCall(ctx: ServiceContext, route: string, code: string, l: Found | null, detail?: Record<string, unknown>) {
  const event = recordEvent(ctx, {
    type: `validation.${route}`,
    outcome: code,
    subjectType: l ? 'license' : null,
    subjectId: l?.id ?? null,
    ownerId: l?.ownerId ?? null,
    detail: detail ?? null,
  })
  if (route !== 'verify' || !l) {
    ctx.waitUntil(event.run())
    return
  }
  const validation = { code, valid: code === 'VALID', fingerprint: (detail?.fingerprint as string | undefined) ?? null }
  ctx.waitUntil(ctx.db.batch([event, outboxInsert(ctx, { type: 'license.validated', licenseId: l.id, data: { validation } })])
    .then(([, outbox]) => deliverAfterCommit(ctx, outbox)))
}

export async function verifyLicense(ctx: ServiceContext, input: { key: string, fingerprint?: string }) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, input.key, input.fingerprint)
  if (!l) {
    recordCall(ctx, 'verify', 'NOT_FOUND', null)
    return { valid: false, status: 'inactive' as const, code: 'NOT_FOUND' as VerifyCode }
  }
  const code: VerifyCode = stateOf(l, now) ?? (input.fingerprint !== undefined && !l.hasDevice ? 'DEVICE_NOT_ACTIVATED' : 'VALID')
  recordCall(ctx, 'verify', code, l, input.fingerprint !== undefined ? { fingerprint: input.fingerprint.slice(0, 64) } : undefined)
  const valid = code === 'VALID'
  return {
    valid,
    status: valid ? 'active' as const : 'inactive' as const,
    code,
    license: { expiresAt: l.expiresAt ? l.expiresAt.toISOString() : null, metadata: l.metadata, devices: devicesOf(l) },
  }
}

export async function activateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string, name?: string }) {
  const now = nowOf(ctx)
  const l = await lookup(ctx, input.key, input.fingerprint)
  if (!l) {
    recordCall(ctx, 'activate', 'NOT_FOUND', null)
    return { activated: false, code: 'NOT_FOUND' as ActivateCode }
  }
  const blocked = stateOf(l, now)
  if (blocked) {
    recordCall(ctx, 'activate', blocked, l)
    return { activated: false, code: blocked as ActivateCode, devices: devicesOf(l) }
  }
  if (l.hasDevice) {
    ctx.waitUntil(ctx.db.update(devices).set({ lastSeenAt: now, ip: ctx.audit.ip || null })
      .where(and(eq(devices.licenseId, l.id), eq(devices.fingerprint, input.fingerprint))).run())
    recordCall(ctx, 'activate', 'ALREADY_ACTIVATED', l, { fingerprint: input.fingerprint.slice(0, 64) })
    return { activated: true, code: 'ALREADY_ACTIVATED' as ActivateCode, devices: devicesOf(l) }
  }
  // Race-free: the seat check and the insert are one statement, and D1 runs statements one at a time.
  const deviceId = newId('dev')
  const [inserted, , outbox, state] = await ctx.db.batch([
    ctx.db.insert(devices).select(sql`select ${deviceId}, l.id, ${input.fingerprint}, ${input.name ?? null}, ${ctx.audit.ip || null}, ${now.getTime()}, ${now.getTime()}
      from licenses l where l.id = ${l.id} and l.status = 'active' and (l.expires_at is null or l.expires_at > ${now.getTime()})
      and (l.max_devices is null or (select count(*) from devices d where d.license_id = l.id) < l.max_devices)`)
      .onConflictDoNothing().returning({ id: devices.id }),
    recordEventIfChanged(ctx, { type: 'device.activated', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { deviceId, fingerprint: input.fingerprint.slice(0, 64), name: input.name ?? null } }),
    outboxInsert(ctx, { type: 'device.activated', licenseId: l.id, data: { device: { id: deviceId, fingerprint: input.fingerprint, name: input.name ?? null } }, onlyIfChanged: true }),
    ctx.db.select({
      used: sql<number>`(select count(*) from devices d where d.license_id = ${l.id})`,
      hasDevice: sql<number>`exists(select 1 from devices d where d.license_id = ${l.id} and d.fingerprint = ${input.fingerprint})`,
    }).from(sql`(select 1)`),
  ])
  deliverAfterCommit(ctx, outbox)
  const after = state[0] ?? { used: l.used, hasDevice: 0 }
  const code: ActivateCode = inserted.length > 0 ? 'ACTIVATED' : after.hasDevice ? 'ALREADY_ACTIVATED' : 'DEVICE_LIMIT_REACHED'
  recordCall(ctx, 'activate', code, l, { fingerprint: input.fingerprint.slice(0, 64) })
  return { activated: code !== 'DEVICE_LIMIT_REACHED', code, devices: devicesOf(l, after.used) }
}

export async function deactivateDevice(ctx: ServiceContext, input: { key: string, fingerprint: string }) {
  const l = await lookup(ctx, input.key, input.fingerprint)
  if (!l) {
    recordCall(ctx, 'deactivate', 'NOT_FOUND', null)
    return { deactivated: false, code: 'NOT_FOUND' as DeactivateCode }
  }
  if (!l.hasDevice) {
    recordCall(ctx, 'deactivate', 'DEVICE_NOT_ACTIVATED', l)
    return { deactivated: false, code: 'DEVICE_NOT_ACTIVATED' as DeactivateCode, devices: devicesOf(l) }
  }
  const [deleted, , outbox] = await ctx.db.batch([
    ctx.db.delete(devices).where(and(eq(devices.licenseId, l.id), eq(devices.fingerprint, input.fingerprint))).returning({ id: devices.id }),
    recordEventIfChanged(ctx, { type: 'device.deactivated', outcome: 'success', subjectType: 'license', subjectId: l.id, ownerId: l.ownerId, detail: { fingerprint: input.fingerprint.slice(0, 64) } }),
    outboxInsert(ctx, { type: 'device.deactivated', licenseId: l.id, data: { device: { fingerprint: input.fingerprint } }, onlyIfChanged: true }),
  ])
  deliverAfterCommit(ctx, outbox)
  // Deleted here, or by a concurrent call a moment ago: either way this fingerprint no longer holds a seat.
  const code: DeactivateCode = deleted.length > 0 ? 'DEACTIVATED' : 'DEVICE_NOT_ACTIVATED'
  recordCall(ctx, 'deactivate', code, l, { fingerprint: input.fingerprint.slice(0, 64) })
  return { deactivated: deleted.length > 0, code, devices: devicesOf(l, deleted.length > 0 ? l.used - 1 : l.used) }
}
