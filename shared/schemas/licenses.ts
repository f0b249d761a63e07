import { z } from 'zod'
import { idSchema } from './common'

export const DURATION_RE = /^(\d{1,4})(h|d|w|mo|y)$/
export const durationSchema = z.string().trim().toLowerCase().regex(DURATION_RE, 'Use a duration like 12h, 14d, 2w, 6mo or 1y')

const METADATA_MAX_BYTES = 4096
/** Free-form JSON object (tier, feature flags, usage limits…), at most 4 KiB serialised. */
export const metadataSchema = z.record(z.string().max(100), z.unknown())
  .refine(v => new TextEncoder().encode(JSON.stringify(v)).length <= METADATA_MAX_BYTES, 'Metadata must be at most 4 KiB of JSON')

export const labelSchema = z.string().trim().max(100, 'At most 100 characters')
export const maxDevicesSchema = z.number().int('Whole number').min(1, 'At least 1').max(100_000, 'At most 100,000').nullable()
export const LICENSE_VIEW_STATUSES = ['active', 'suspended', 'expired'] as const

export const createLicenseSchema = z.object({
  /** Admins may create for any user; omitted = yourself. */
  ownerId: idSchema.optional(),
  label: labelSchema.default(''),
  /** Exactly one of expiresAt (a date, may be past for imports), expiresIn (a duration), or neither (perpetual). */
  expiresAt: z.coerce.date().nullable().optional(),
  expiresIn: durationSchema.optional(),
  renewalPeriod: durationSchema.nullable().optional(),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.default({}),
}).refine(v => !(v.expiresAt && v.expiresIn), { message: 'Give an expiry date or a duration, not both', path: ['expiresIn'] })
export type CreateLicenseInput = z.input<typeof createLicenseSchema>

export const updateLicenseSchema = z.object({
  id: idSchema,
  label: labelSchema.optional(),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.optional(),
  renewalPeriod: durationSchema.nullable().optional(),
  expiresAt: z.coerce.date().nullable().optional(),
})

export const renewLicenseSchema = z.object({
  id: idSchema,
  /** Set this date… */
  expiresAt: z.coerce.date().optional(),
  /** …or extend by this from the later of now and the current expiry; neither = the renewal period. */
  expiresIn: durationSchema.optional(),
}).refine(v => !(v.expiresAt && v.expiresIn), { message: 'Give a date or a duration, not both', path: ['expiresIn'] })

export const listLicensesSchema = z.object({
  search: z.string().trim().max(100).optional(),
  status: z.enum(LICENSE_VIEW_STATUSES).optional(),
  /** Admins only: one owner's licences. */
  ownerId: idSchema.optional(),
  limit: z.number().int().min(1).max(100).default(50),
  cursor: z.string().max(100).optional(),
})

export const licenseIdSchema = z.object({ id: idSchema })
export const freeDeviceSchema = z.object({ id: idSchema, deviceId: idSchema })
