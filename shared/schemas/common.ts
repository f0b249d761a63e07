import { z } from 'zod'

/** Shared by forms (UForm :schema) and procedures (.input), so both give the same messages. */
export const emailSchema = z.string().trim().toLowerCase().min(3, 'Enter an email address').max(254, 'At most 254 characters').pipe(z.email('Enter a valid email address'))

export const newPasswordSchema = z.string()
  .min(10, 'At least 10 characters')
  .max(256, 'At most 256 characters')

export const nameSchema = z.string().trim().max(100, 'At most 100 characters')

export const idSchema = z.string().min(1).max(64).regex(/^[a-z]{3}_[0-9a-z]{1,40}$/, 'Invalid id')

export const USER_ROLES = ['admin', 'user'] as const
export const roleSchema = z.enum(USER_ROLES)

/** Per-user public API calls per minute; null = installation default. */
export const verifyLimitSchema = z.number().int('Whole number').min(1, 'At least 1').max(1_000_000, 'At most 1,000,000').nullable()
