import { z } from 'zod'

/**
 * License policies (docs/policies.md): grace period, expiry from first activation, activation churn
 * limit, floating seats. Shared by forms, procedures, the CLI and the management API, so every door
 * refuses the same values with the same message. Durations are the usual 12h / 14d / 2w / 6mo / 1y;
 * a lease also takes seconds and minutes (30s, 15min) and is fixed-length (no months).
 */
const POLICY_DURATION_RE = /^(\d{1,4})(h|d|w|mo|y)$/
const LEASE_RE = /^(\d{1,7})(s|min|h|d|w)$/

const DAY_MS = 86_400_000
const UNIT_MS = { s: 1000, min: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const
/** The longest a calendar duration can be, in days (for the caps: a year counts 366 d, a month 30.5 d, so 1y and 12mo pass a 1-year cap). */
const UNIT_MAX_DAYS = { h: 1 / 24, d: 1, w: 7, mo: 30.5, y: 366 } as const

/** Upper bound, in days, of a calendar duration such as 6mo (30.5 d per month, 366 per year). */
export function durationMaxDays(text: string): number | null {
  const m = POLICY_DURATION_RE.exec(text.trim().toLowerCase())
  return m ? Number(m[1]) * UNIT_MAX_DAYS[m[2] as keyof typeof UNIT_MAX_DAYS] : null
}

/** A lease as milliseconds (null when it is not a lease duration). */
export function leaseMs(text: string): number | null {
  const m = LEASE_RE.exec(text.trim().toLowerCase())
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null
}

/** A calendar duration between 1 of its unit and `maxDays` (the limits people can read in the message). */
function cappedDuration(maxDays: number, maxText: string) {
  return z.string().trim().toLowerCase()
    .regex(POLICY_DURATION_RE, 'Use a duration like 12h, 7d, 2w, 1mo or 1y')
    .refine(v => Number(POLICY_DURATION_RE.exec(v)?.[1]) >= 1, 'A duration is at least 1 (e.g. 1d)')
    .refine(v => (durationMaxDays(v) ?? Infinity) <= maxDays, `At most ${maxText}`)
}

/** Grace after expiry: 1h … 1 year. */
export const graceSchema = cappedDuration(366, '1 year (1y)')
/** A trial's length from its first activation: 1h … 10 years. */
export const expiresAfterActivationSchema = cappedDuration(3660, '10 years (10y)')
/** The churn limit's trailing period: 1h … 1 year. */
export const activationPeriodSchema = cappedDuration(366, '1 year (1y)')

export const LEASE_MIN_MS = 60_000
export const LEASE_MAX_MS = 30 * DAY_MS
/** A floating seat's lease: 1 minute … 30 days. */
export const leaseDurationSchema = z.string().trim().toLowerCase()
  .regex(LEASE_RE, 'Use a lease like 15min, 1h or 1d')
  .refine(v => (leaseMs(v) ?? 0) >= LEASE_MIN_MS, 'A lease is at least 1 minute (1min)')
  .refine(v => (leaseMs(v) ?? Infinity) <= LEASE_MAX_MS, 'At most 30 days (30d)')

export const ACTIVATION_LIMIT_MAX = 10_000
/** At most `count` new activations within the trailing `period`. */
export const activationLimitSchema = z.strictObject({
  count: z.number({ error: 'A whole number of activations' }).int('A whole number of activations').min(1, 'At least 1').max(ACTIVATION_LIMIT_MAX, 'At most 10,000'),
  period: activationPeriodSchema,
})
export type ActivationLimit = z.output<typeof activationLimitSchema>

/** "COUNT/PERIOD" as the CLI and forms write it (3/30d, 5/1mo). */
export const activationLimitTextSchema = z.string().trim().toLowerCase()
  .regex(/^\d{1,9}\/[^/\s]+$/, 'Write it as COUNT/PERIOD, e.g. 3/30d')
  .transform(v => ({ count: Number(v.split('/')[0]), period: v.split('/')[1]! }))
  .pipe(activationLimitSchema)

/** The policy fields of a license or product: each a value, null for none (absent: unchanged / the default). */
export const policyFields = {
  grace: graceSchema.nullable().optional(),
  expiresAfterActivation: expiresAfterActivationSchema.nullable().optional(),
  maxActivationsPerPeriod: activationLimitSchema.nullable().optional(),
  leaseDuration: leaseDurationSchema.nullable().optional(),
}

/** The policies as a license or product has them (null: none). */
export interface Policies {
  grace: string | null
  expiresAfterActivation: string | null
  maxActivationsPerPeriod: ActivationLimit | null
  leaseDuration: string | null
}

export const GRACE_ON_PERPETUAL = 'A perpetual license has no expiry to be late for: set an expiry (or an expiry after first activation) to give it a grace period'
export const EXPIRY_AND_TRIAL = 'Give an expiry or an expiry after first activation, not both'

const LEASE_WORDS = { s: 'second', min: 'min', h: 'hour', d: 'day', w: 'week' } as const
/** A lease for people: "15 min", "1 hour", "30 seconds". */
export function leaseInWords(text: string): string {
  const m = LEASE_RE.exec(text.trim().toLowerCase())
  if (!m) return text
  const n = Number(m[1])
  const unit = m[2] as keyof typeof LEASE_WORDS
  return `${n} ${LEASE_WORDS[unit]}${n === 1 || unit === 'min' ? '' : 's'}`
}

// Forms (components/licenses/PolicyFields.vue): each policy as text, empty = none.

const optionalPolicyText = <T extends z.ZodType<unknown, string>>(schema: T) => z.string().optional()
  .transform(v => (v?.trim() ? v : undefined))
  .pipe(schema.optional())

export const policyFormFields = {
  grace: optionalPolicyText(graceSchema),
  expiresAfterActivation: optionalPolicyText(expiresAfterActivationSchema),
  maxActivationsPerPeriod: optionalPolicyText(activationLimitTextSchema),
  leaseDuration: optionalPolicyText(leaseDurationSchema),
}
export interface PolicyFormState { grace?: string, expiresAfterActivation?: string, maxActivationsPerPeriod?: string, leaseDuration?: string }

/** A form's policy answers as fields: empty ones null (none). */
export function policiesFromForm(f: { grace?: string, expiresAfterActivation?: string, maxActivationsPerPeriod?: ActivationLimit, leaseDuration?: string }): Policies {
  return { grace: f.grace ?? null, expiresAfterActivation: f.expiresAfterActivation ?? null, maxActivationsPerPeriod: f.maxActivationsPerPeriod ?? null, leaseDuration: f.leaseDuration ?? null }
}

/** Policies as a form's text fields. */
export function formFromPolicies(p: Partial<Policies>): Required<PolicyFormState> {
  return {
    grace: p.grace ?? '',
    expiresAfterActivation: p.expiresAfterActivation ?? '',
    maxActivationsPerPeriod: p.maxActivationsPerPeriod ? `${p.maxActivationsPerPeriod.count}/${p.maxActivationsPerPeriod.period}` : '',
    leaseDuration: p.leaseDuration ?? '',
  }
}

/** The cross-field rules of the forms: a trial clock needs no fixed expiry; a grace needs some expiry. */
export function checkPolicyForm(v: { grace?: string, expiresAfterActivation?: string }, hasFixedExpiry: boolean, addIssue: (path: string, message: string) => void) {
  if (v.expiresAfterActivation?.trim() && hasFixedExpiry) addIssue('expiresAfterActivation', `${EXPIRY_AND_TRIAL} (set Expires to perpetual)`)
  if (v.grace?.trim() && !hasFixedExpiry && !v.expiresAfterActivation?.trim()) addIssue('grace', GRACE_ON_PERPETUAL)
}
