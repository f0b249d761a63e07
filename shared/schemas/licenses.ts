import { z } from 'zod'
import { emailSchema, idSchema, listCursorSchema, productRefSchema, sortSchema } from './common'
import { DURATION_RE, durationInWords } from '../durations'
import { checkPolicyForm, EXPIRY_AND_TRIAL, GRACE_ON_PERPETUAL, policyFields, policyFormFields } from './policies'

// Re-exported: the web app's pages import them from shared/durations.ts (no zod in their chunk).
export { DURATION_RE, durationInWords }

export const durationSchema = z.string().trim().toLowerCase().regex(DURATION_RE, 'Use a duration like 12h, 14d, 2w, 6mo or 1y')
  .refine(v => Number(DURATION_RE.exec(v)?.[1]) >= 1, 'A duration is at least 1 (e.g. 1d)')

const METADATA_MAX_BYTES = 4096
/** Free-form JSON object (tier, feature flags, usage limits…), at most 4 KiB serialised. */
export const metadataSchema = z.record(z.string().max(100), z.unknown())
  .refine(v => new TextEncoder().encode(JSON.stringify(v)).length <= METADATA_MAX_BYTES, 'Metadata must be at most 4 KiB of JSON')

export const labelSchema = z.string().trim().max(100, 'At most 100 characters')
export const maxDevicesSchema = z.number().int('Whole number').min(1, 'At least 1').max(100_000, 'At most 100,000').nullable()
export const LICENSE_VIEW_STATUSES = ['active', 'suspended', 'expired'] as const

/** The seller's own customer fields (never in public answers, tokens or event details). */
export const customerEmailSchema = emailSchema
export const customerNameSchema = z.string().trim().min(1, 'Enter a name, or leave it empty').max(200, 'At most 200 characters')
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
export const externalIdSchema = z.string().trim().min(1, 'Enter an id, or leave it empty').max(200, 'At most 200 characters').regex(/^[^\u0000-\u001F\u007F]+$/, 'No control characters')
/** Each customer field: a value, null to clear it (absent: unchanged / none). */
const customerFields = {
  customerEmail: customerEmailSchema.nullable().optional(),
  customerName: customerNameSchema.nullable().optional(),
  externalId: externalIdSchema.nullable().optional(),
}

export const createLicenseSchema = z.object({
  /** Admins may create for any user; omitted = yourself. */
  ownerId: idSchema.optional(),
  /** One of the owner's products, by id or slug; its defaults fill the fields left unset here. */
  product: productRefSchema.nullable().optional(),
  label: labelSchema.default(''),
  /**
   * Exactly one of expiresAt (a date, may be past for imports; null = perpetual) or expiresIn (a
   * duration); neither: the product's default expiry, else perpetual.
   */
  expiresAt: z.coerce.date().nullable().optional(),
  expiresIn: durationSchema.optional(),
  /** null = none; absent: the product's default, else none. */
  renewalPeriod: durationSchema.nullable().optional(),
  /** null = unlimited; absent: the product's default, else unlimited. */
  maxDevices: maxDevicesSchema.optional(),
  /** Absent: the product's default metadata, else {}. */
  metadata: metadataSchema.optional(),
  ...customerFields,
  /** License policies (docs/policies.md); absent: the product's default, else none. */
  ...policyFields,
}).refine(v => !(v.expiresAt && v.expiresIn), { message: 'Give an expiry date or a duration, not both', path: ['expiresIn'] })
  .refine(v => !(v.expiresAfterActivation && (v.expiresAt || v.expiresIn)), { message: EXPIRY_AND_TRIAL, path: ['expiresAfterActivation'] })
  // Without a product nothing else can give it an expiry (with one, the service checks its defaults too).
  .refine(v => !(v.grace && !v.product && !v.expiresAt && !v.expiresIn && !v.expiresAfterActivation), { message: GRACE_ON_PERPETUAL, path: ['grace'] })
export type CreateLicenseInput = z.input<typeof createLicenseSchema>

export const updateLicenseSchema = z.object({
  id: idSchema,
  /** Move to another of the owner's products (id or slug), or null for none. Defaults are not re-applied. */
  product: productRefSchema.nullable().optional(),
  label: labelSchema.optional(),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.optional(),
  renewalPeriod: durationSchema.nullable().optional(),
  expiresAt: z.coerce.date().nullable().optional(),
  ...customerFields,
  /** License policies: a value, null to remove, absent to keep. */
  ...policyFields,
})

export const renewLicenseSchema = z.object({
  id: idSchema,
  /** Set this date… */
  expiresAt: z.coerce.date().optional(),
  /** …or extend by this from the later of now and the current expiry; neither = the renewal period. */
  expiresIn: durationSchema.optional(),
}).refine(v => !(v.expiresAt && v.expiresIn), { message: 'Give a date or a duration, not both', path: ['expiresIn'] })

/** The licenses list's server-side sorts (absent: newest first). */
export const LICENSE_SORTS = ['createdAt', 'label', 'customer', 'expiresAt'] as const
export type LicenseSort = (typeof LICENSE_SORTS)[number]

export const listLicensesSchema = z.object({
  /** Label, key hint, customer email, name or external id (and, for admins, the owner's email). */
  search: z.string().trim().max(100).optional(),
  status: z.enum(LICENSE_VIEW_STATUSES).optional(),
  /** Admins only: one owner's licenses. */
  ownerId: idSchema.optional(),
  /** One product's licenses (id, or slug: for admins, that slug's products of every owner). */
  product: productRefSchema.optional(),
  /** Exact matches (an email is compared lower-cased). */
  customerEmail: z.string().trim().toLowerCase().min(1).max(254).optional(),
  externalId: z.string().trim().min(1).max(200).optional(),
  sort: sortSchema(LICENSE_SORTS).optional(),
  limit: z.number().int().min(1).max(100).default(50),
  cursor: listCursorSchema.optional(),
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

export const EXPIRY_PRESETS = ['14d', '30d', '1y', 'never', 'date', 'custom'] as const
export const RENEWAL_PRESETS = ['none', '30d', '1y', 'custom'] as const

/** The create-license form (components/licenses/CreateModal.vue); its output maps onto createLicenseSchema. */
/** A form's optional text field: empty means none. */
const optionalText = <T extends z.ZodType<string, string>>(schema: T) => z.string().optional()
  .transform(v => (v?.trim() ? v : undefined))
  .pipe(schema.optional())

export const createLicenseFormSchema = z.object({
  ownerId: idSchema.optional(),
  /** A product id, or undefined for none. */
  product: idSchema.optional(),
  label: labelSchema,
  expiry: z.enum(EXPIRY_PRESETS),
  expiresOn: z.string().optional(),
  /** With expiry "custom": a duration from now. */
  expiresIn: z.string().optional(),
  renewal: z.enum(RENEWAL_PRESETS),
  renewalPeriod: z.string().optional(),
  unlimitedDevices: z.boolean(),
  maxDevices: z.number().nullable().optional(),
  metadata: metadataJsonSchema,
  customerEmail: optionalText(customerEmailSchema),
  customerName: optionalText(customerNameSchema),
  externalId: optionalText(externalIdSchema),
  ...policyFormFields,
}).superRefine((v, ctx) => {
  checkPolicyForm(v, v.expiry !== 'never', (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }))
  if (v.expiry === 'date' && !dayInputSchema.safeParse(v.expiresOn ?? '').success) {
    ctx.addIssue({ code: 'custom', path: ['expiresOn'], message: 'Pick a date' })
  }
  if (v.expiry === 'custom') {
    const r = durationSchema.safeParse(v.expiresIn ?? '')
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['expiresIn'], message: r.error.issues[0]!.message })
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

/** The renewal control's value (components/licenses/RenewalField.vue), the same in Create and Edit. */
export type RenewalPreset = typeof RENEWAL_PRESETS[number]
/** A stored renewal period → the control's preset and custom text. */
export function renewalPresetOf(period: string | null | undefined): { renewal: RenewalPreset, renewalPeriod: string } {
  if (!period) return { renewal: 'none', renewalPeriod: '' }
  return (RENEWAL_PRESETS as readonly string[]).includes(period) ? { renewal: period as RenewalPreset, renewalPeriod: '' } : { renewal: 'custom', renewalPeriod: period }
}
/** The control's preset and custom text → the renewal period to store (null = none). */
export function renewalPeriodOf(renewal: RenewalPreset, custom: string | null | undefined): string | null {
  return renewal === 'none' ? null : renewal === 'custom' ? (custom ?? '').trim().toLowerCase() : renewal
}

/** The edit form on the detail page: empty customer fields clear them; product undefined = none. */
export const editLicenseFormSchema = updateLicenseSchema.omit({ renewalPeriod: true }).extend({
  product: idSchema.optional(),
  ...policyFormFields,
  customerEmail: optionalText(customerEmailSchema),
  customerName: optionalText(customerNameSchema),
  externalId: optionalText(externalIdSchema),
  renewal: z.enum(RENEWAL_PRESETS),
  renewalPeriod: z.string().optional(),
}).superRefine((v, ctx) => {
  if (v.renewal === 'custom') {
    const r = durationSchema.safeParse(v.renewalPeriod ?? '')
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['renewalPeriod'], message: r.error.issues[0]!.message })
  }
}, whenObject)
export type EditLicenseFormInput = z.input<typeof editLicenseFormSchema>

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
