import { z } from 'zod'
import { idSchema, listCursorSchema, PRODUCT_SLUG_RE, sortSchema } from './common'
import { durationSchema, maxDevicesSchema, metadataJsonSchema, metadataSchema } from './licenses'
import { checkPolicyForm, EXPIRY_AND_TRIAL, formFromPolicies, GRACE_ON_PERPETUAL, policiesFromForm, policyFields, policyFormFields, type ActivationLimit } from './policies'

export { isProductId, PRODUCT_SLUG_RE, productRefSchema } from './common'
export const productNameSchema = z.string().trim().min(1, 'Give the product a name').max(100, 'At most 100 characters')
export const productSlugSchema = z.string().trim()
  .min(1, 'Give the product a slug')
  .max(63, 'At most 63 characters')
  .regex(PRODUCT_SLUG_RE, 'Lower-case letters, digits and dashes, starting with a letter or digit')

/**
 * What a new license of the product gets for each field it does not set. One JSON object (one
 * column): the license policies of a later version (grace, lease duration, expiry after first
 * activation, activation churn limit) join as members here. Unknown members are refused, and an
 * absent or null member means no default (the license's own fallback: perpetual, no renewal,
 * unlimited devices, empty metadata).
 */
export const productDefaultsSchema = z.strictObject({
  expiresIn: durationSchema.nullable().optional(),
  renewalPeriod: durationSchema.nullable().optional(),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.nullable().optional(),
  // License policies (docs/policies.md).
  ...policyFields,
}).refine(d => !(d.expiresIn && d.expiresAfterActivation), { message: EXPIRY_AND_TRIAL, path: ['expiresAfterActivation'] })
  .refine(d => !d.grace || !!d.expiresIn || !!d.expiresAfterActivation, { message: GRACE_ON_PERPETUAL, path: ['grace'] })
  .transform(d => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== null && v !== undefined)) as {
    expiresIn?: string
    renewalPeriod?: string
    maxDevices?: number
    metadata?: Record<string, unknown>
    grace?: string
    expiresAfterActivation?: string
    maxActivationsPerPeriod?: ActivationLimit
    leaseDuration?: string
  })
export type ProductDefaults = z.output<typeof productDefaultsSchema>

export const createProductSchema = z.object({
  /** Admins may create for any user; omitted = yourself. */
  ownerId: idSchema.optional(),
  name: productNameSchema,
  slug: productSlugSchema,
  defaults: productDefaultsSchema.default({}),
})

export const updateProductSchema = z.object({
  id: idSchema,
  name: productNameSchema.optional(),
  slug: productSlugSchema.optional(),
  /** Replaces the defaults as a whole. */
  defaults: productDefaultsSchema.optional(),
})

export const productIdSchema = z.object({ id: idSchema })

/** The products list's server-side sorts. */
export const PRODUCT_SORTS = ['createdAt', 'name'] as const

export const listProductsSchema = z.object({
  search: z.string().trim().max(100).optional(),
  /** Admins only: one owner's products. */
  ownerId: idSchema.optional(),
  /** Absent: newest first. */
  sort: sortSchema(PRODUCT_SORTS).optional(),
  limit: z.number().int().min(1).max(100).default(100),
  cursor: listCursorSchema.optional(),
})

/** A name as a slug suggestion (the create form fills the slug from the name until it is edited). */
export function slugify(name: string): string {
  return name.normalize('NFKD').replace(/[\u0300-\u036F]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
}

// The product form (components/products/FormModal.vue): presets for people, mapped onto defaults.

export const PRODUCT_EXPIRY_PRESETS = ['none', '14d', '30d', '1y', 'custom'] as const
export const PRODUCT_RENEWAL_PRESETS = ['none', '30d', '1y', 'custom'] as const

export const productFormSchema = z.object({
  ownerId: idSchema.optional(),
  name: productNameSchema,
  slug: productSlugSchema,
  expiry: z.enum(PRODUCT_EXPIRY_PRESETS),
  expiresIn: z.string().optional(),
  renewal: z.enum(PRODUCT_RENEWAL_PRESETS),
  renewalPeriod: z.string().optional(),
  unlimitedDevices: z.boolean(),
  maxDevices: z.number().nullable().optional(),
  metadata: metadataJsonSchema,
  ...policyFormFields,
}).superRefine((v, ctx) => {
  checkPolicyForm(v, v.expiry !== 'none', (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }))
  for (const [preset, field] of [[v.expiry, 'expiresIn'], [v.renewal, 'renewalPeriod']] as const) {
    if (preset !== 'custom') continue
    const r = durationSchema.safeParse(v[field] ?? '')
    if (!r.success) ctx.addIssue({ code: 'custom', path: [field], message: r.error.issues[0]!.message })
  }
  if (!v.unlimitedDevices) {
    const r = maxDevicesSchema.unwrap().safeParse(v.maxDevices)
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['maxDevices'], message: v.maxDevices == null ? 'Enter a number of devices' : r.error.issues[0]!.message })
  }
}, { when: p => typeof p.value === 'object' && p.value !== null })
export type ProductFormInput = z.input<typeof productFormSchema>
export type ProductFormOutput = z.output<typeof productFormSchema>

/** The form's answers as product defaults ("none", "unlimited" and empty metadata: no default). */
export function defaultsFromForm(f: ProductFormOutput): z.input<typeof productDefaultsSchema> {
  const duration = (preset: string, custom: string | undefined) => (preset === 'none' ? undefined : preset === 'custom' ? custom!.trim().toLowerCase() : preset)
  return {
    expiresIn: duration(f.expiry, f.expiresIn),
    renewalPeriod: duration(f.renewal, f.renewalPeriod),
    maxDevices: f.unlimitedDevices ? undefined : f.maxDevices ?? undefined,
    metadata: Object.keys(f.metadata).length ? f.metadata : undefined,
    ...policiesFromForm(f),
  }
}

/** A product's defaults as the form's fields (the edit form starts from them). */
export function formFromDefaults(d: ProductDefaults): Omit<ProductFormInput, 'name' | 'slug' | 'ownerId'> {
  const preset = <P extends readonly string[]>(presets: P, value: string | undefined) =>
    (value === undefined ? 'none' : presets.includes(value) ? value : 'custom') as P[number]
  const expiry = preset(PRODUCT_EXPIRY_PRESETS, d.expiresIn)
  const renewal = preset(PRODUCT_RENEWAL_PRESETS, d.renewalPeriod)
  return {
    expiry,
    expiresIn: expiry === 'custom' ? d.expiresIn : '',
    renewal,
    renewalPeriod: renewal === 'custom' ? d.renewalPeriod : '',
    unlimitedDevices: d.maxDevices === undefined,
    maxDevices: d.maxDevices ?? 1,
    metadata: d.metadata ? JSON.stringify(d.metadata, null, 2) : '',
    ...formFromPolicies(d),
  }
}
