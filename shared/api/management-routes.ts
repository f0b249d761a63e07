import type { z } from 'zod'
import {
  createdLicenseAnswerSchema, createLicenseBodySchema, createProductBodySchema, deviceParamsSchema, emptyBodySchema,
  idParamsSchema, licenseAnswerSchema, licenseListAnswerSchema, licenseWithDevicesAnswerSchema, listLicensesQuerySchema,
  listProductsQuerySchema, lookupBodySchema, productAnswerSchema, productListAnswerSchema, renewLicenseBodySchema,
  updateLicenseBodySchema, updateProductBodySchema, type ManagementErrorCode,
} from '../schemas/management-api'

/**
 * The management API's route table (docs/management-api.md): the handler
 * (server/management-api/handler.ts) dispatches and validates by it, and the OpenAPI document is
 * generated from it — one source for what each route takes and answers.
 */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE'

export interface ManagementRoute {
  /** Stable name: the handler's dispatch key and the OpenAPI operationId. */
  operationId: string
  method: HttpMethod
  /** OpenAPI path template, e.g. /api/v1/licenses/{id}. */
  path: string
  summary: string
  description?: string
  tag: 'Products' | 'Licenses'
  /** Changes something: refused (403) to read-only tokens. */
  write: boolean
  params?: z.ZodType
  query?: z.ZodType
  /** JSON body (Content-Type: application/json). `bodyOptional`: an empty body is `{}`. */
  body?: z.ZodType
  bodyOptional?: boolean
  /** Honours the Idempotency-Key header. */
  idempotent?: boolean
  /** The success status and its body (null: no body, 204). */
  success: { status: 200 | 201 | 204, schema: z.ZodType | null }
  /** Every error code the route can answer, besides the ones every route can (COMMON_ERRORS). */
  errors: ManagementErrorCode[]
}

/** Any management route can answer these. */
export const COMMON_ERRORS: ManagementErrorCode[] = ['UNAUTHORIZED', 'RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE']
/** And any route with a body these. */
export const BODY_ERRORS: ManagementErrorCode[] = ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED']

const P = '/api/v1'

export const MANAGEMENT_ROUTES: ManagementRoute[] = [
  {
    operationId: 'listProducts', method: 'GET', path: `${P}/products`, tag: 'Products', write: false,
    summary: 'List products', description: 'Newest first, keyset pages.',
    query: listProductsQuerySchema, success: { status: 200, schema: productListAnswerSchema }, errors: ['VALIDATION_FAILED', 'FORBIDDEN'],
  },
  {
    operationId: 'createProduct', method: 'POST', path: `${P}/products`, tag: 'Products', write: true,
    summary: 'Create a product', body: createProductBodySchema,
    success: { status: 201, schema: productAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'CONFLICT'],
  },
  {
    operationId: 'getProduct', method: 'GET', path: `${P}/products/{id}`, tag: 'Products', write: false,
    summary: 'Get a product', params: idParamsSchema, success: { status: 200, schema: productAnswerSchema }, errors: ['NOT_FOUND', 'VALIDATION_FAILED'],
  },
  {
    operationId: 'updateProduct', method: 'PATCH', path: `${P}/products/{id}`, tag: 'Products', write: true,
    summary: 'Change a product', params: idParamsSchema, body: updateProductBodySchema,
    success: { status: 200, schema: productAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT'],
  },
  {
    operationId: 'deleteProduct', method: 'DELETE', path: `${P}/products/{id}`, tag: 'Products', write: true,
    summary: 'Delete a product', description: 'Refused with 409 while licenses use it.', params: idParamsSchema,
    success: { status: 204, schema: null }, errors: ['FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'VALIDATION_FAILED'],
  },
  {
    operationId: 'listLicenses', method: 'GET', path: `${P}/licenses`, tag: 'Licenses', write: false,
    summary: 'List licenses', description: 'Newest first, keyset pages: pass `nextCursor` as `cursor` for the next page.',
    query: listLicensesQuerySchema, success: { status: 200, schema: licenseListAnswerSchema }, errors: ['VALIDATION_FAILED', 'FORBIDDEN'],
  },
  {
    operationId: 'createLicense', method: 'POST', path: `${P}/licenses`, tag: 'Licenses', write: true, idempotent: true,
    summary: 'Create a license',
    description: 'The answer is the only place the plain key appears. With an `Idempotency-Key` header, the same key and body within 24 h answer the same 201 (key included); the same key with another body is a 409.',
    body: createLicenseBodySchema, success: { status: 201, schema: createdLicenseAnswerSchema },
    errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT'],
  },
  {
    operationId: 'lookupLicense', method: 'POST', path: `${P}/licenses/lookup`, tag: 'Licenses', write: false,
    summary: 'Find the license of a key', description: 'For support: the license a customer\'s key belongs to.',
    body: lookupBodySchema, success: { status: 200, schema: licenseWithDevicesAnswerSchema }, errors: [...BODY_ERRORS, 'NOT_FOUND'],
  },
  {
    operationId: 'getLicense', method: 'GET', path: `${P}/licenses/{id}`, tag: 'Licenses', write: false,
    summary: 'Get a license with its devices', params: idParamsSchema,
    success: { status: 200, schema: licenseWithDevicesAnswerSchema }, errors: ['NOT_FOUND', 'VALIDATION_FAILED'],
  },
  {
    operationId: 'updateLicense', method: 'PATCH', path: `${P}/licenses/{id}`, tag: 'Licenses', write: true,
    summary: 'Change a license', params: idParamsSchema, body: updateLicenseBodySchema,
    success: { status: 200, schema: licenseAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT'],
  },
  {
    operationId: 'deleteLicense', method: 'DELETE', path: `${P}/licenses/{id}`, tag: 'Licenses', write: true,
    summary: 'Delete a license', params: idParamsSchema, success: { status: 204, schema: null }, errors: ['FORBIDDEN', 'NOT_FOUND', 'VALIDATION_FAILED'],
  },
  {
    operationId: 'suspendLicense', method: 'POST', path: `${P}/licenses/{id}/suspend`, tag: 'Licenses', write: true,
    summary: 'Suspend a license', params: idParamsSchema, body: emptyBodySchema, bodyOptional: true,
    success: { status: 200, schema: licenseAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND'],
  },
  {
    operationId: 'reinstateLicense', method: 'POST', path: `${P}/licenses/{id}/reinstate`, tag: 'Licenses', write: true,
    summary: 'Reinstate a suspended license', params: idParamsSchema, body: emptyBodySchema, bodyOptional: true,
    success: { status: 200, schema: licenseAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND'],
  },
  {
    operationId: 'renewLicense', method: 'POST', path: `${P}/licenses/{id}/renew`, tag: 'Licenses', write: true,
    summary: 'Renew a license',
    description: 'To `expiresAt`, or by `expiresIn` (default: the license\'s renewal period) from the later of now and the current expiry.',
    params: idParamsSchema, body: renewLicenseBodySchema, bodyOptional: true,
    success: { status: 200, schema: licenseAnswerSchema }, errors: [...BODY_ERRORS, 'FORBIDDEN', 'NOT_FOUND'],
  },
  {
    operationId: 'freeDevice', method: 'DELETE', path: `${P}/licenses/{id}/devices/{deviceId}`, tag: 'Licenses', write: true,
    summary: 'Free a device (seat)', params: deviceParamsSchema, success: { status: 204, schema: null }, errors: ['FORBIDDEN', 'NOT_FOUND', 'VALIDATION_FAILED'],
  },
]

/** A path template as a matcher: `{name}` is one path segment. */
export function pathMatcher(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}/?$`)
}
