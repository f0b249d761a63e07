import type { z } from 'zod'
import { durationSchema } from '../shared/schemas/licenses'
import { activationLimitTextSchema } from '../shared/schemas/policies'
import type { ServiceContext } from '../server/services/context'
import { ServiceError } from '../server/services/errors'
import { findUserByEmail } from '../server/services/users'
import { str, UsageError, type Parsed } from './args'

/**
 * Checks input against a shared schema (the web app's rules); the first problem becomes a usage
 * error naming the option that set the field (`optionOf`: schema field → option).
 */
export function validator(optionOf: Record<string, string>) {
  return <T extends z.ZodType>(schema: T, input: unknown): z.output<T> => {
    const parsed = schema.safeParse(input)
    if (parsed.success) return parsed.data
    const issue = parsed.error.issues[0]!
    const option = optionOf[issue.path.join('.')] ?? optionOf[String(issue.path[0])]
    throw new UsageError(option ? `${option}: ${issue.message}` : issue.message)
  }
}

// Option values, checked before the shared schemas see them (which then apply the web app's rules).

export function duration(flags: Parsed['flags'], name: string): string | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  const d = durationSchema.safeParse(value)
  if (!d.success) throw new UsageError(`--${name}: ${d.error.issues[0]!.message}`)
  return d.data
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i

export function isoDate(flags: Parsed['flags'], name: string): string | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  if (!ISO_DATE.test(value.trim()) || Number.isNaN(Date.parse(value.trim()))) {
    throw new UsageError(`--${name}: not an ISO 8601 date (e.g. 2027-01-31 or 2027-01-31T12:00:00Z)`)
  }
  return value.trim()
}

/** --expires-in D | --expires-at ISO (create and renew). */
export function expiry(flags: Parsed['flags']) {
  if (flags['expires-in'] !== undefined && flags['expires-at'] !== undefined) {
    throw new UsageError('give --expires-in or --expires-at, not both')
  }
  return { expiresIn: duration(flags, 'expires-in'), expiresAt: isoDate(flags, 'expires-at') }
}

export function wholeNumber(flags: Parsed['flags'], name: string): number | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value.trim())) throw new UsageError(`--${name}: a whole number`)
  return Number(value)
}

export function jsonObject(flags: Parsed['flags'], name: string): Record<string, unknown> | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  }
  catch {
    throw new UsageError(`--${name}: not valid JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--${name}: must be a JSON object, like {"tier":"pro"}`)
  }
  return parsed as Record<string, unknown>
}

export async function ownerByEmail(ctx: ServiceContext, email: string) {
  const owner = await findUserByEmail(ctx, email)
  if (!owner) throw new ServiceError('NOT_FOUND', `No user with email ${email.trim().toLowerCase()}`)
  return owner
}


/** The policy options of `license create`, `license update` and `product create` (docs/policies.md). */
export const POLICY_FLAGS = { 'grace': 'string', 'expires-after-activation': 'string', 'max-activations': 'string', 'lease': 'string' } as const
/** Schema field → the option that sets it (for error messages). */
export const POLICY_OPTIONS = {
  grace: '--grace', expiresAfterActivation: '--expires-after-activation', maxActivationsPerPeriod: '--max-activations',
  'maxActivationsPerPeriod.count': '--max-activations', 'maxActivationsPerPeriod.period': '--max-activations', leaseDuration: '--lease',
}

/**
 * The policy options as schema input: strings as typed (the shared schemas check them), and
 * --max-activations COUNT/PERIOD as { count, period }. With `allowNone` (updates), `none` removes one.
 */
export function policyOptions(flags: Parsed['flags'], allowNone = false) {
  const value = (name: string) => {
    const v = str(flags, name)
    return allowNone && v?.trim().toLowerCase() === 'none' ? null : v
  }
  const limit = value('max-activations')
  let maxActivationsPerPeriod: unknown = limit
  if (typeof limit === 'string') {
    const parsed = activationLimitTextSchema.safeParse(limit)
    if (!parsed.success) throw new UsageError(`--max-activations: ${parsed.error.issues[0]!.message}`)
    maxActivationsPerPeriod = parsed.data
  }
  return {
    grace: value('grace'),
    expiresAfterActivation: value('expires-after-activation'),
    maxActivationsPerPeriod: maxActivationsPerPeriod as { count: number, period: string } | null | undefined,
    leaseDuration: value('lease'),
  }
}
