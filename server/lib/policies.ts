import { leaseMs } from '../../shared/schemas/policies'
import { addDuration, parseDuration, subtractDuration } from './duration'

/**
 * The license policies' request-time rules as pure functions (docs/policies.md). The public API
 * (server/services/validation.ts) feeds them what its ONE indexed read returned — a `Snapshot`;
 * tests/unit/policies.test.ts feeds them a license, its devices and activations via `snapshotOf`.
 * First match wins, in the order the codes are listed (docs/policies.md).
 */
export type VerifyCode = 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED' | 'DEVICE_NOT_ACTIVATED' | 'GRACE_PERIOD' | 'VALID'
export type ActivateCode = 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED' | 'ALREADY_ACTIVATED' | 'ACTIVATION_LIMIT_REACHED' | 'DEVICE_LIMIT_REACHED' | 'ACTIVATED'
export type HeartbeatCode = 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED' | 'DEVICE_NOT_ACTIVATED' | 'ALIVE'

/** What the rules need to know about one license at `now`. */
export interface Snapshot {
  status: 'active' | 'suspended'
  expiresAt: Date | null
  /** expiresAt + grace (null: no grace). */
  graceEndsAt: Date | null
  maxDevices: number | null
  productSlug: string | null
  /** Devices holding a seat now (leases not lapsed). */
  used: number
  /** The fingerprint asked about holds a seat now. */
  hasDevice: boolean
  /** Churn limit, and the ACTIVATED answers within its trailing period. */
  activationLimit: { count: number, period: string } | null
  recentActivations: number
}

/** A device as the rules see it: a lease lapses at leaseExpiresAt (null: held until freed). */
export interface DeviceState { fingerprint: string, leaseExpiresAt: Date | null }

export interface LicensePolicyState {
  status: 'active' | 'suspended'
  expiresAt: Date | null
  grace: string | null
  maxDevices: number | null
  productSlug?: string | null
  activationLimitCount?: number | null
  activationLimitPeriod?: string | null
}

/** The grace period's end: expiresAt + grace (calendar months), or null without either. */
export function graceEndOf(expiresAt: Date | null, grace: string | null): Date | null {
  if (!expiresAt || !grace) return null
  const d = parseDuration(grace)
  return d ? addDuration(expiresAt, d) : null
}

/** A device holds a seat while its lease has not lapsed (a device without a lease always does). */
export const holdsSeat = (d: Pick<DeviceState, 'leaseExpiresAt'>, now: Date) => d.leaseExpiresAt === null || d.leaseExpiresAt.getTime() > now.getTime()

/** When a lease taken or renewed at `now` lapses (null: not a floating license). */
export function leaseEndOf(leaseDuration: string | null, now: Date): Date | null {
  const ms = leaseDuration ? leaseMs(leaseDuration) : null
  return ms ? new Date(now.getTime() + ms) : null
}

/** The start of the churn limit's trailing period: activations after it count. */
export function activationWindowStart(period: string, now: Date): Date {
  return subtractDuration(now, parseDuration(period)!)
}

/** The expiry a trial that starts on first use gets from its first ACTIVATED answer at `now`. */
export function trialExpiryOf(expiresAfterActivation: string, now: Date): Date {
  return addDuration(now, parseDuration(expiresAfterActivation)!)
}

/** The rules' input from a license, its devices and its activation times (the unit tests' entry). */
export function snapshotOf(l: LicensePolicyState, devices: DeviceState[], activations: Date[], fingerprint: string | undefined, now: Date): Snapshot {
  const live = devices.filter(d => holdsSeat(d, now))
  const limit = l.activationLimitCount && l.activationLimitPeriod ? { count: l.activationLimitCount, period: l.activationLimitPeriod } : null
  const since = limit ? activationWindowStart(limit.period, now).getTime() : 0
  return {
    status: l.status,
    expiresAt: l.expiresAt,
    graceEndsAt: graceEndOf(l.expiresAt, l.grace),
    maxDevices: l.maxDevices,
    productSlug: l.productSlug ?? null,
    used: live.length,
    hasDevice: fingerprint !== undefined && live.some(d => d.fingerprint === fingerprint),
    activationLimit: limit,
    recentActivations: limit ? activations.filter(t => t.getTime() > since).length : 0,
  }
}

const passed = (t: Date | null, now: Date) => t !== null && t.getTime() <= now.getTime()

/** SUSPENDED (even if also expired), EXPIRED (after the grace end, if any), or null: usable. */
export function stateOf(s: Pick<Snapshot, 'status' | 'expiresAt' | 'graceEndsAt'>, now: Date): 'SUSPENDED' | 'EXPIRED' | null {
  if (s.status === 'suspended') return 'SUSPENDED'
  if (passed(s.graceEndsAt ?? s.expiresAt, now)) return 'EXPIRED'
  return null
}

/** Past expiresAt but not past the grace end. */
export const inGrace = (s: Pick<Snapshot, 'expiresAt' | 'graceEndsAt'>, now: Date) =>
  s.graceEndsAt !== null && passed(s.expiresAt, now) && !passed(s.graceEndsAt, now)

const mismatch = (s: Snapshot, product: string | undefined) => product !== undefined && s.productSlug !== product

export function verifyCode(s: Snapshot | null, q: { fingerprint?: string, product?: string }, now: Date): VerifyCode {
  if (!s) return 'NOT_FOUND'
  if (mismatch(s, q.product)) return 'PRODUCT_MISMATCH'
  const state = stateOf(s, now)
  if (state) return state
  if (q.fingerprint !== undefined && !s.hasDevice) return 'DEVICE_NOT_ACTIVATED'
  return inGrace(s, now) ? 'GRACE_PERIOD' : 'VALID'
}

/** Activation is refused during grace (EXPIRED): grace keeps existing devices working, it adds none. */
export function activateCode(s: Snapshot | null, q: { product?: string }, now: Date): ActivateCode {
  if (!s) return 'NOT_FOUND'
  if (mismatch(s, q.product)) return 'PRODUCT_MISMATCH'
  const state = stateOf(s, now)
  if (state) return state
  if (passed(s.expiresAt, now)) return 'EXPIRED'
  if (s.hasDevice) return 'ALREADY_ACTIVATED'
  if (s.activationLimit && s.recentActivations >= s.activationLimit.count) return 'ACTIVATION_LIMIT_REACHED'
  if (s.maxDevices !== null && s.used >= s.maxDevices) return 'DEVICE_LIMIT_REACHED'
  return 'ACTIVATED'
}

/** A heartbeat keeps a seat during grace too (the license still verifies); a lapsed lease is DEVICE_NOT_ACTIVATED. */
export function heartbeatCode(s: Snapshot | null, q: { product?: string }, now: Date): HeartbeatCode {
  if (!s) return 'NOT_FOUND'
  if (mismatch(s, q.product)) return 'PRODUCT_MISMATCH'
  const state = stateOf(s, now)
  if (state) return state
  return s.hasDevice ? 'ALIVE' : 'DEVICE_NOT_ACTIVATED'
}
