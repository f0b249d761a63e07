import { z } from 'zod'
import type { ApiErrorCode } from '../../server/lib/public-api'
import { idempotencyKeySchema } from '../schemas/management-api'
import { COMMON_ERRORS, MANAGEMENT_ROUTES, type ManagementRoute } from './management-routes'
import type { ApiExample, ApiRoute } from './routes'

/**
 * The management API's route table (shared/api/management-routes.ts, the one its handler
 * dispatches by) as documented operations for the OpenAPI generator (shared/api/openapi.ts),
 * with examples. Nothing here validates: the schemas are the route table's own.
 */

const ex = (summary: string, value: unknown): ApiExample => ({ summary, value })
const AT = '2026-12-01T10:00:00.000Z'
const product = { id: 'prd_01jd3k8w2x', ownerId: 'usr_01jd3k0a7q', name: 'Photo Pro', slug: 'photo-pro', defaults: { expiresIn: '1y', maxDevices: 3 }, licenseCount: 12, createdAt: AT, updatedAt: AT }
const license = {
  id: 'lic_01jd3m4c9v', ownerId: 'usr_01jd3k0a7q', product: { id: product.id, slug: product.slug }, label: 'ACME seat', status: 'active',
  expiresAt: '2027-12-01T10:00:00.000Z', graceEndsAt: null, grace: null, expiresAfterActivation: null, maxActivationsPerPeriod: null, leaseDuration: null, maxDevices: 3, devices: { used: 1, max: 3 }, metadata: { tier: 'pro' }, renewal: '1y',
  maskedKey: 'LM-7K3QF-•••••-•••••-•••••-•••••-4Q9XH', customer: { email: 'ada@example.com', name: 'Ada Lovelace', externalId: 'order_1042' }, createdAt: AT, updatedAt: AT,
}
const device = { id: 'dev_01jd3n2r8k', fingerprint: 'device-4f2a', name: 'Ada\'s MacBook', ip: '203.0.113.7', firstSeenAt: AT, lastSeenAt: AT }

/** Request and answer examples per operation. */
const EXAMPLES: Record<string, { body?: Record<string, ApiExample>, answer?: Record<string, ApiExample> }> = {
  listProducts: { answer: { page: ex('A page of products', { data: [product], nextCursor: null }) } },
  createProduct: {
    body: { product: ex('A product with license defaults', { name: 'Photo Pro', slug: 'photo-pro', defaults: { expiresIn: '1y', maxDevices: 3 } }) },
    answer: { created: ex('The new product', { product: { ...product, licenseCount: 0 } }) },
  },
  getProduct: { answer: { product: ex('A product', { product }) } },
  updateProduct: { body: { rename: ex('Rename', { name: 'Photo Pro 2' }) }, answer: { product: ex('The changed product', { product: { ...product, name: 'Photo Pro 2' } }) } },
  listLicenses: { answer: { page: ex('A page of licenses, newest first', { data: [license], nextCursor: '1764583200000:lic_01jd3m4c9v' }) } },
  createLicense: {
    body: {
      checkout: ex('From a checkout: a product, the customer and the order id', { product: 'photo-pro', customerEmail: 'ada@example.com', customerName: 'Ada Lovelace', externalId: 'order_1042' }),
      explicit: ex('Every field set', { label: 'ACME seat', expiresIn: '1y', renewal: '1y', maxDevices: 3, metadata: { tier: 'pro' } }),
    },
    answer: { created: ex('The license and its key (shown only here)', { license, key: 'LM-7K3QF-9XW2M-TR8VD-0HJ4N-B6ZCE-4Q9XH' }) },
  },
  lookupLicense: { body: { key: ex('A key a customer sent to support', { key: 'LM-7K3QF-9XW2M-TR8VD-0HJ4N-B6ZCE-4Q9XH' }) }, answer: { found: ex('Its license, with devices', { license: { ...license, devicesList: [device] } }) } },
  getLicense: { answer: { license: ex('A license with its devices', { license: { ...license, devicesList: [device] } }) } },
  updateLicense: { body: { seats: ex('More seats and a new tier', { maxDevices: 5, metadata: { tier: 'team' } }) }, answer: { license: ex('The changed license', { license: { ...license, maxDevices: 5, devices: { used: 1, max: 5 }, metadata: { tier: 'team' } } }) } },
  suspendLicense: { answer: { license: ex('Suspended', { license: { ...license, status: 'suspended' } }) } },
  reinstateLicense: { answer: { license: ex('Active again', { license }) } },
  renewLicense: { body: { period: ex('By one year', { expiresIn: '1y' }), date: ex('To a date', { expiresAt: '2028-01-31T00:00:00Z' }) }, answer: { license: ex('Renewed', { license: { ...license, expiresAt: '2028-12-01T10:00:00.000Z' } }) } },
}

/** Example messages (the answers' own words vary with the case). */
const MESSAGES: Record<ApiErrorCode, string> = {
  BAD_REQUEST: 'Body is not valid JSON',
  UNAUTHORIZED: 'Send an API token: Authorization: Bearer lm_…',
  FORBIDDEN: 'This token is read-only',
  NOT_FOUND: 'No such license',
  ROUTE_NOT_FOUND: 'No such route. See /api/v1/openapi.json',
  METHOD_NOT_ALLOWED: 'Use GET or POST',
  CONFLICT: 'A license with this externalId exists',
  PAYLOAD_TOO_LARGE: 'Body must be at most 16384 bytes',
  UNSUPPORTED_MEDIA_TYPE: 'Content-Type must be application/json',
  VALIDATION_FAILED: 'Some fields are not valid',
  RATE_LIMITED: 'Rate limit of 120 calls per 60 s reached for this owner',
  INTERNAL: 'Something went wrong on our side',
  UNAVAILABLE: 'The database is not reachable',
}

const LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']
const idempotencyHeader = z.object({
  'Idempotency-Key': idempotencyKeySchema.optional().meta({ description: 'Your id for this create (e.g. the checkout session id): the same key and body within 24 h answer the same 201, key included; the same key with another body is 409.', example: 'cs_live_a1b2c3' }),
})

/**
 * The errors a route can really answer, as its handler (server/management-api/handler.ts) gives
 * them — what the conformance test holds the document to: every route also answers 405 for
 * another method on its path; a malformed id in the path is 404, so VALIDATION_FAILED needs a body
 * or a query; no management route answers 503.
 */
function errorsOf(r: ManagementRoute): ApiErrorCode[] {
  const all = new Set<ApiErrorCode>([...COMMON_ERRORS, ...r.errors, 'METHOD_NOT_ALLOWED'])
  if (r.params) all.add('NOT_FOUND')
  if (!r.body && !r.query) all.delete('VALIDATION_FAILED')
  all.delete('UNAVAILABLE')
  return [...all]
}

export function managementRoutes(): ApiRoute[] {
  return MANAGEMENT_ROUTES.map((r): ApiRoute => {
    const examples = EXAMPLES[r.operationId] ?? {}
    const codes = errorsOf(r)
    return {
      method: r.method.toLowerCase() as ApiRoute['method'],
      path: r.path,
      operationId: r.operationId,
      summary: r.summary,
      description: [r.description, r.write ? 'Needs a token that is not read-only.' : 'Read-only tokens may call it.'].filter(Boolean).join(' '),
      tag: r.tag,
      auth: 'bearer',
      params: r.params as z.ZodObject | undefined,
      query: r.query as z.ZodObject | undefined,
      headers: r.idempotent ? idempotencyHeader : undefined,
      body: r.body ? { schema: r.body, optional: r.bodyOptional, examples: examples.body } : undefined,
      responses: [{
        status: r.success.status,
        description: r.success.status === 204 ? 'Done (no body).' : r.success.status === 201 ? 'Created.' : 'OK.',
        schema: r.success.schema ?? undefined,
        headers: LIMIT_HEADERS,
        examples: r.success.schema ? examples.answer : undefined,
      }],
      errors: Object.fromEntries(codes.map(c => [c, MESSAGES[c]])),
    }
  })
}
