import { z } from 'zod'
import { idSchema } from './common'

export const DURATION_RE = /^(\d{1,4})(h|d|w|mo|y)$/
export const durationSchema = z.string().trim().toLowerCase().regex(DURATION_RE, 'Use a duration like 12h, 14d, 2w, 6mo or 1y')
  .refine(v => Number(DURATION_RE.exec(v)?.[1]) >= 1, 'A duration is at least 1 (e.g. 1d)')

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

/**
 * Metadata as people type it in a form: JSON text that must be an object of at most 4 KiB.
 * Parses to the object, so the form's output is ready for metadataSchema.
 */
export const metadataJsonSchema = z.string().transform((text, ctx) => {
  if (!text.trim()) return {}
  try {
    return JSON.parse(text) as unknown
  }
  catch {
    ctx.addIssue({ code: 'custom', message: 'Not valid JSON' })
    return z.NEVER
  }
}).pipe(z.custom<Record<string, unknown>>(v => typeof v === 'object' && v !== null && !Array.isArray(v), 'Must be a JSON object, like {"tier": "pro"}').pipe(metadataSchema))

/** A day as an <input type="date"> gives it (YYYY-MM-DD). */
const dayRe = /^\d{4}-\d{2}-\d{2}$/
export const dayInputSchema = z.string().regex(dayRe, 'Pick a date').refine((v) => {
  const d = new Date(`${v}T00:00:00`)
  return !Number.isNaN(d.getTime()) && d.getDate() === Number(v.slice(8, 10))
}, 'Pick a date')

/** Cross-field checks run even while another field is invalid, so every field shows its message at once. */
const whenObject = { when: (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null }

export const EXPIRY_PRESETS = ['14d', '30d', '1y', 'never', 'date'] as const
export const RENEWAL_PRESETS = ['none', '30d', '1y', 'custom'] as const

/** The create-licence form (components/licenses/CreateModal.vue); its output maps onto createLicenseSchema. */
export const createLicenseFormSchema = z.object({
  ownerId: idSchema.optional(),
  label: labelSchema,
  expiry: z.enum(EXPIRY_PRESETS),
  expiresOn: z.string().optional(),
  renewal: z.enum(RENEWAL_PRESETS),
  renewalPeriod: z.string().optional(),
  unlimitedDevices: z.boolean(),
  maxDevices: z.number().nullable().optional(),
  metadata: metadataJsonSchema,
}).superRefine((v, ctx) => {
  if (v.expiry === 'date' && !dayInputSchema.safeParse(v.expiresOn ?? '').success) {
    ctx.addIssue({ code: 'custom', path: ['expiresOn'], message: 'Pick a date' })
  }
  if (v.renewal === 'custom') {
    const r = durationSchema.safeParse(v.renewalPeriod ?? '')
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['renewalPeriod'], message: r.error.issues[0]!.message })
  }
  if (!v.unlimitedDevices) {
    const r = maxDevicesSchema.unwrap().safeParse(v.maxDevices)
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['maxDevices'], message: v.maxDevices == null ? 'Enter a number of devices' : r.error.issues[0]!.message })
  }
}, whenObject)
export type CreateLicenseFormInput = z.input<typeof createLicenseFormSchema>

export const RENEW_MODES = ['period', 'duration', 'date'] as const

/** The renew form on the detail page; its output maps onto renewLicenseSchema. */
export const renewLicenseFormSchema = z.object({
  mode: z.enum(RENEW_MODES),
  expiresIn: z.string().optional(),
  expiresOn: z.string().optional(),
}).superRefine((v, ctx) => {
  if (v.mode === 'duration') {
    const r = durationSchema.safeParse(v.expiresIn ?? '')
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['expiresIn'], message: r.error.issues[0]!.message })
  }
  if (v.mode === 'date' && !dayInputSchema.safeParse(v.expiresOn ?? '').success) {
    ctx.addIssue({ code: 'custom', path: ['expiresOn'], message: 'Pick a date' })
  }
}, whenObject)
export type RenewLicenseFormInput = z.input<typeof renewLicenseFormSchema>

/** The end of a picked day in the viewer's time zone: "expires on 31 Dec" means valid through it. */
export function endOfDay(day: string): Date {
  return new Date(`${day}T23:59:59.999`)
}
