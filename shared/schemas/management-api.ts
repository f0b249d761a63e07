import { z } from 'zod'
import { idSchema, productRefSchema } from './common'
import { customerEmailSchema, customerNameSchema, durationSchema, externalIdSchema, labelSchema, LICENSE_VIEW_STATUSES, maxDevicesSchema, metadataSchema } from './licenses'
import { activationLimitSchema, policyFields } from './policies'
import { productDefaultsSchema, productNameSchema, productSlugSchema } from './products'

/**
 * The management API's bodies (docs/management-api.md): every request is validated with these
 * schemas (server/management-api/handler.ts) and every answer has the shape of one of them; the
 * route table (shared/api/management-routes.ts) names them per route, and the OpenAPI document is
 * generated from it. Requests are strict: an unknown field is a 422, not silently ignored.
 */

// ---------- shared pieces ----------

/** An ISO 8601 date-time with a time zone (Z or ±hh:mm), e.g. 2027-01-31T00:00:00Z. */
export const isoDateTimeSchema = z.iso.datetime({ offset: true, message: 'An ISO 8601 date-time with a time zone, e.g. 2027-01-31T00:00:00Z' })
const dateInput = isoDateTimeSchema.transform(v => new Date(v))
const dateOutput = z.iso.datetime()

/** A keyset cursor as a list's `nextCursor` gave it. */
export const cursorSchema = z.string().max(100).regex(/^\d{1,15}:[a-z]{3}_[0-9a-z]{1,40}$/, 'Not a cursor from this list (use nextCursor as given)')
export const limitSchema = z.coerce.number({ message: 'A whole number from 1 to 100' }).int('A whole number from 1 to 100').min(1, 'At least 1').max(100, 'At most 100').default(25)

export const ERROR_CODES = [
  'BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'CONFLICT',
  'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE',
] as const
export type ManagementErrorCode = (typeof ERROR_CODES)[number]

/** Every error answer: `{ error: { code, message, fields? } }` (`fields` with VALIDATION_FAILED). */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    fields: z.record(z.string(), z.string()).optional().describe('Field → what is wrong with it (VALIDATION_FAILED)'),
  }),
}).meta({ id: 'Error' })

// ---------- objects in answers ----------

export const productObjectSchema = z.object({
  id: z.string().describe('prd_…'),
  ownerId: z.string(),
  name: z.string(),
  slug: z.string(),
  defaults: z.object({
    expiresIn: z.string().optional(),
    renewalPeriod: z.string().optional(),
    maxDevices: z.number().int().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    grace: z.string().optional(),
    expiresAfterActivation: z.string().optional(),
    maxActivationsPerPeriod: activationLimitSchema.optional(),
    leaseDuration: z.string().optional(),
  }),
  licenseCount: z.number().int(),
  createdAt: dateOutput,
  updatedAt: dateOutput,
}).meta({ id: 'Product' })

export const deviceObjectSchema = z.object({
  id: z.string().describe('dev_…'),
  fingerprint: z.string(),
  name: z.string().nullable(),
  ip: z.string().nullable(),
  firstSeenAt: dateOutput,
  lastSeenAt: dateOutput,
}).meta({ id: 'Device' })

export const licenseObjectSchema = z.object({
  id: z.string().describe('lic_…'),
  ownerId: z.string(),
  product: z.object({ id: z.string(), slug: z.string() }).nullable(),
  label: z.string(),
  status: z.enum(LICENSE_VIEW_STATUSES).describe('suspended wins over expired'),
  expiresAt: dateOutput.nullable().describe('null = perpetual'),
  graceEndsAt: dateOutput.nullable().describe('End of the grace period after expiry (null: no grace)'),
  grace: z.string().nullable().describe('Grace after expiry, e.g. 7d (verify answers GRACE_PERIOD until graceEndsAt)'),
  expiresAfterActivation: z.string().nullable().describe('A trial\'s length from its first activation, e.g. 14d'),
  maxActivationsPerPeriod: z.object({ count: z.number().int(), period: z.string() }).nullable().describe('At most count new activations within the trailing period'),
  leaseDuration: z.string().nullable().describe('Floating seats: a device holds its seat this long after each heartbeat, e.g. 15min'),
  maxDevices: z.number().int().nullable().describe('null = unlimited'),
  devices: z.object({ used: z.number().int(), max: z.number().int().nullable() }),
  metadata: z.record(z.string(), z.unknown()),
  renewal: z.string().nullable().describe('Renewal period, e.g. 1y'),
  maskedKey: z.string(),
  customer: z.object({ email: z.string().nullable(), name: z.string().nullable(), externalId: z.string().nullable() }),
  createdAt: dateOutput,
  updatedAt: dateOutput,
}).meta({ id: 'License' })

export const licenseWithDevicesSchema = licenseObjectSchema.extend({ devicesList: z.array(deviceObjectSchema) }).meta({ id: 'LicenseWithDevices' })

// ---------- answers ----------

export const productAnswerSchema = z.object({ product: productObjectSchema })
export const productListAnswerSchema = z.object({ data: z.array(productObjectSchema), nextCursor: z.string().nullable() })
export const licenseAnswerSchema = z.object({ license: licenseObjectSchema })
export const licenseWithDevicesAnswerSchema = z.object({ license: licenseWithDevicesSchema })
export const licenseListAnswerSchema = z.object({ data: z.array(licenseObjectSchema), nextCursor: z.string().nullable() })
export const createdLicenseAnswerSchema = z.object({
  license: licenseObjectSchema,
  key: z.string().describe('The license key, in this answer only (and its idempotent replays)'),
})

// ---------- requests ----------

export const idParamsSchema = z.strictObject({ id: idSchema })
export const deviceParamsSchema = z.strictObject({ id: idSchema, deviceId: idSchema })

export const listProductsQuerySchema = z.strictObject({
  /** Admins only: one owner's products. */
  ownerId: idSchema.optional(),
  q: z.string().trim().max(100).optional(),
  limit: limitSchema,
  cursor: cursorSchema.optional(),
})

export const createProductBodySchema = z.strictObject({
  ownerId: idSchema.optional().describe('Admins only: create for this user (default: the token\'s owner)'),
  name: productNameSchema,
  slug: productSlugSchema,
  defaults: productDefaultsSchema.optional(),
})

export const updateProductBodySchema = z.strictObject({
  name: productNameSchema.optional(),
  slug: productSlugSchema.optional(),
  defaults: productDefaultsSchema.optional().describe('Replaces the defaults as a whole'),
})

export const listLicensesQuerySchema = z.strictObject({
  product: productRefSchema.optional().describe('Product id or slug'),
  status: z.enum(LICENSE_VIEW_STATUSES).optional(),
  customerEmail: z.string().trim().toLowerCase().min(1).max(254).optional(),
  externalId: z.string().trim().min(1).max(200).optional(),
  q: z.string().trim().max(100).optional().describe('Search: label, key hint, customer email, name or external id'),
  /** Admins only: one owner's licenses. */
  ownerId: idSchema.optional(),
  limit: limitSchema,
  cursor: cursorSchema.optional(),
})

const customerFields = {
  customerEmail: customerEmailSchema.nullable().optional(),
  customerName: customerNameSchema.nullable().optional(),
  externalId: externalIdSchema.nullable().optional().describe('Your order or subscription id; unique per owner'),
}

export const createLicenseBodySchema = z.strictObject({
  ownerId: idSchema.optional().describe('Admins only: create for this user (default: the token\'s owner)'),
  product: productRefSchema.optional().describe('Product id or slug; its defaults fill the fields left unset'),
  label: labelSchema.optional(),
  expiresAt: dateInput.nullable().optional().describe('null = perpetual'),
  expiresIn: durationSchema.optional().describe('e.g. 30d, 1y (instead of expiresAt)'),
  renewal: durationSchema.nullable().optional(),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.optional(),
  ...policyFields,
  ...customerFields,
}).refine(v => !(v.expiresAt !== undefined && v.expiresAt !== null && v.expiresIn), { message: 'Give expiresAt or expiresIn, not both', path: ['expiresIn'] })

export const updateLicenseBodySchema = z.strictObject({
  label: labelSchema.optional(),
  product: productRefSchema.nullable().optional().describe('Move to another product (id or slug), or null for none'),
  maxDevices: maxDevicesSchema.optional(),
  metadata: metadataSchema.optional(),
  renewal: durationSchema.nullable().optional(),
  expiresAt: dateInput.nullable().optional(),
  ...policyFields,
  ...customerFields,
})

export const renewLicenseBodySchema = z.strictObject({
  expiresIn: durationSchema.optional(),
  expiresAt: dateInput.optional(),
}).refine(v => !(v.expiresAt && v.expiresIn), { message: 'Give expiresAt or expiresIn, not both', path: ['expiresIn'] })

export const emptyBodySchema = z.strictObject({})

export const lookupBodySchema = z.strictObject({ key: z.string().min(1).max(256) })

/** Idempotency-Key header: 1–255 visible ASCII characters (e.g. your checkout session id). */
export const idempotencyKeySchema = z.string().min(1).max(255).regex(/^[\x21-\x7E]+$/, 'Visible ASCII characters only')
