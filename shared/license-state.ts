/**
 * How a license's state reads to people (the license page's banner, badges and relative times):
 * pure, so the server render and the browser agree, and unit-tested (tests/unit/license-state.test.ts).
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** "Expiring soon" from this close to the expiry (matches what a seller wants to chase: two weeks). */
export const EXPIRING_SOON_MS = 14 * DAY
/** A license whose whole term is at most this long, with no renewal period, is shown as a trial. */
export const TRIAL_MAX_TERM_MS = 31 * DAY

export interface LicenseStateInput {
  status: 'active' | 'suspended' | 'expired' | string
  expiresAt: Date | null
  createdAt: Date
  renewalPeriod: string | null
  updatedAt?: Date
}

/** "in 14 days", "3 hours ago", "in 5 minutes", "just now": the biggest unit that fits, rounded down. */
export function relativeTime(at: Date, now: Date): string {
  const diff = at.getTime() - now.getTime()
  const abs = Math.abs(diff)
  if (abs < MINUTE) return 'just now'
  // Days, hours and minutes rounded down ("in 9 days" at 9 d 20 h); months and years to the nearest.
  const [n, unit] = abs >= 360 * DAY
    ? [Math.round(abs / (365.25 * DAY)), 'year']
    : abs >= 60 * DAY
      ? [Math.round(abs / (30.44 * DAY)), 'month']
      : abs >= DAY
        ? [Math.floor(abs / DAY), 'day']
        : abs >= HOUR ? [Math.floor(abs / HOUR), 'hour'] : [Math.floor(abs / MINUTE), 'minute']
  const words = `${n} ${unit}${n === 1 ? '' : 's'}`
  return diff > 0 ? `in ${words}` : `${words} ago`
}

export type LicenseBanner =
  | { kind: 'suspended' }
  | { kind: 'expired', at: Date }
  | { kind: 'expiring', at: Date }

/** The banner a license needs, if any: suspended (Reinstate), expired (Renew), expiring within two weeks (Renew). */
export function licenseBanner(l: LicenseStateInput, now: Date): LicenseBanner | null {
  if (l.status === 'suspended') return { kind: 'suspended' }
  if (!l.expiresAt) return null
  const left = l.expiresAt.getTime() - now.getTime()
  if (left <= 0) return { kind: 'expired', at: l.expiresAt }
  if (left <= EXPIRING_SOON_MS) return { kind: 'expiring', at: l.expiresAt }
  return null
}

/** A short, non-renewing term (the "Trial · 14 days" kind): shown with a trial badge. An import that was already expired when created is no trial. */
export function isTrial(l: LicenseStateInput): boolean {
  const term = l.expiresAt ? l.expiresAt.getTime() - l.createdAt.getTime() : 0
  return !!l.expiresAt && !l.renewalPeriod && term > 0 && term <= TRIAL_MAX_TERM_MS
}

/** An exact time that reads the same on the server and in any browser (fixed locale, UTC): for titles. */
export function exactTime(at: Date): string {
  return `${at.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC', hour12: false })} UTC`
}

/** The list's expiry line: "expires in 14 days" / "expired 3 days ago" (exact time as its title). */
export function expiryInWords(expiresAt: Date, now: Date): string {
  return `${expiresAt.getTime() > now.getTime() ? 'expires' : 'expired'} ${relativeTime(expiresAt, now)}`
}

export interface TrialInput extends LicenseStateInput { expiresAfterActivation?: string | null, trialPending?: boolean }

/**
 * The trial badge of a list row: a trial that starts on first activation (docs/policies.md) —
 * "trial · starts on first activation", then "trial · ends in 9 days" / "trial · ended 3 days ago" —
 * or a short non-renewing term (isTrial). null: not a trial.
 */
export function trialBadge(l: TrialInput, now: Date): string | null {
  if (l.trialPending) return 'trial · starts on first activation'
  if (!l.expiresAfterActivation && !isTrial(l)) return null
  if (!l.expiresAt) return 'trial'
  return `trial · ${l.expiresAt.getTime() > now.getTime() ? 'ends' : 'ended'} ${relativeTime(l.expiresAt, now)}`
}
