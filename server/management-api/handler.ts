import type { DurableObjectNamespace } from '@cloudflare/workers-types'
import type { z} from 'zod';
import { ZodError } from 'zod'
import type { DB } from '../../db/client'
import { MANAGEMENT_ROUTES, pathMatcher, type ManagementRoute } from '../../shared/api/management-routes'
import { createLicenseSchema, updateLicenseSchema } from '../../shared/schemas/licenses'
import { idempotencyKeySchema } from '../../shared/schemas/management-api'
import type { RateLimiter } from '../durable/rate-limiter'
import type { AppEnv } from '../env'
import { ApiError, CORS_HEADERS, errorResponse, isJsonContentType, json, readBody } from '../lib/public-api'
import { admitManagementCall, rateLimitedError, rateLimitHeaders, type LimitState } from '../lib/rate-limit'
import { authenticateApiToken, TokenError } from '../services/api-tokens'
import { namedOwner, ownerForCreate, requireWrite, scopeOf, type Principal } from '../services/authz'
import { createServiceContext, logBackgroundError, type ServiceContext } from '../services/context'
import { ServiceError } from '../services/errors'
import { claimIdempotencyKey, requestHashOf } from '../services/idempotency'
import {
  createLicense, deleteLicense, findLicenseByKey, freeDevice, getLicense, listLicenses, reinstateLicense, renewLicense,
  suspendLicense, updateLicense, type LicenseView,
} from '../services/licenses'
import { createProduct, deleteProduct, getProduct, listProducts, updateProduct, type ProductView } from '../services/products'
import { auditInfoOf } from '../utils/audit'

/**
 * The management API (docs/management-api.md): JSON REST under /api/v1 with `Authorization:
 * Bearer lm_…`. Answered from the Worker's entry (server/entry.ts → server/public-api/handler.ts,
 * after the public routes missed), before Nitro and h3. The door only translates: it routes by
 * the route table (shared/api/management-routes.ts), authenticates the token, counts the owner's
 * limit, validates with the table's zod schemas, and calls the same services as tRPC and the CLI
 * with the token's principal (server/services/authz.ts).
 */

const MAX_BODY_BYTES = 16 * 1024
const WWW_AUTHENTICATE = 'Bearer realm="License Manager"'

const COMPILED = MANAGEMENT_ROUTES.map(r => ({ route: r, re: pathMatcher(r.path) }))

/** Is this path one of the management API's (any method)? */
export function isManagementPath(pathname: string): boolean {
  return COMPILED.some(c => c.re.test(pathname))
}

type Match = { route: ManagementRoute, params: Record<string, string> } | { allowed: string[] } | null
function match(method: string, pathname: string): Match {
  const allowed: string[] = []
  for (const c of COMPILED) {
    const m = c.re.exec(pathname)
    if (!m) continue
    if (c.route.method === method) return { route: c.route, params: { ...m.groups } as Record<string, string> }
    allowed.push(c.route.method)
  }
  return allowed.length ? { allowed } : null
}

/** A zod failure as `fields` (dotted path → first message) for a 422. */
export function fieldsOf(error: ZodError): Record<string, string> {
  // No prototype: a field named "constructor" or "__proto__" is an own member like any other.
  const fields = Object.create(null) as Record<string, string>
  const put = (name: string, message: string) => {
    if (!Object.hasOwn(fields, name)) fields[name] = message
  }
  for (const issue of error.issues) {
    const at = issue.path.map(String).join('.')
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) put(at ? `${at}.${k}` : k, 'Unknown field')
      continue
    }
    put(at || '_', issue.message)
  }
  return fields
}

const validationFailed = (fields: Record<string, string>) =>
  new ApiError('VALIDATION_FAILED', `Invalid ${Object.keys(fields).slice(0, 3).join(', ')}${Object.keys(fields).length > 3 ? ', …' : ''}`, {}, fields)

function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value)
  if (!r.success) throw validationFailed(fieldsOf(r.error))
  return r.data
}

/** The JSON body of a route that takes one: content type, size, syntax; an object. */
async function jsonBody(request: Request, route: ManagementRoute): Promise<unknown> {
  const hasBody = request.headers.get('content-length') !== null && request.headers.get('content-length') !== '0'
    || request.headers.get('transfer-encoding') !== null || request.headers.get('content-type') !== null
  if (!hasBody && route.bodyOptional) return {}
  if (!isJsonContentType(request.headers.get('content-type'))) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json')
  const text = await readBody(request, MAX_BODY_BYTES)
  if (!text.trim()) {
    if (route.bodyOptional) return {}
    throw new ApiError('BAD_REQUEST', 'Body is empty')
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  }
  catch {
    throw new ApiError('BAD_REQUEST', 'Body is not valid JSON')
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ApiError('BAD_REQUEST', 'Body must be a JSON object')
  return data
}

/** Query parameters as an object; a repeated parameter is refused (which one would count?). */
function queryOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of url.searchParams) {
    if (Object.hasOwn(out, k)) throw validationFailed({ [k]: 'Give this parameter once' })
    out[k] = v
  }
  return out
}

// ---------- the API's objects (docs/management-api.md) ----------

type DeviceRow = { id: string, fingerprint: string, name: string | null, ip: string | null, firstSeenAt: Date, lastSeenAt: Date }

export function licenseObject(l: LicenseView) {
  return {
    id: l.id,
    ownerId: l.ownerId,
    product: l.product ? { id: l.product.id, slug: l.product.slug } : null,
    label: l.label,
    status: l.displayStatus,
    expiresAt: l.expiresAt,
    graceEndsAt: l.graceEndsAt,
    grace: l.grace,
    expiresAfterActivation: l.expiresAfterActivation,
    maxActivationsPerPeriod: l.maxActivationsPerPeriod,
    leaseDuration: l.leaseDuration,
    maxDevices: l.maxDevices,
    devices: { used: l.devicesUsed, max: l.maxDevices },
    metadata: l.metadata,
    renewal: l.renewalPeriod,
    maskedKey: l.maskedKey,
    customer: { email: l.customerEmail, name: l.customerName, externalId: l.externalId },
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
  }
}

const withDevices = (l: LicenseView & { devices: DeviceRow[] }) => ({
  ...licenseObject(l),
  devicesList: l.devices.map(d => ({ id: d.id, fingerprint: d.fingerprint, name: d.name, ip: d.ip, firstSeenAt: d.firstSeenAt, lastSeenAt: d.lastSeenAt })),
})

export function productObject(p: ProductView) {
  return { id: p.id, ownerId: p.ownerId, name: p.name, slug: p.slug, defaults: p.defaults, licenseCount: p.licenseCount, createdAt: p.createdAt, updatedAt: p.updatedAt }
}

// ---------- operations: translate, call the service, shape the answer ----------

interface Call {
  ctx: ServiceContext
  principal: Principal
  params: Record<string, string>
  query: Record<string, unknown>
  body: Record<string, unknown>
}
type Answer = { status: 200 | 201 | 204, body: unknown }

const OPERATIONS: Record<string, (c: Call) => Promise<Answer>> = {
  async listProducts({ ctx, principal, query }) {
    const q = query as { ownerId?: string, q?: string, limit: number, cursor?: string }
    const page = await listProducts(ctx, scopeOf(principal), { ownerId: namedOwner(principal, q.ownerId), search: q.q, limit: q.limit, cursor: q.cursor })
    return { status: 200, body: { data: page.items.map(productObject), nextCursor: page.nextCursor } }
  },
  async createProduct({ ctx, principal, body }) {
    const b = body as { ownerId?: string, name: string, slug: string, defaults?: Record<string, unknown> }
    const product = await createProduct(ctx, ownerForCreate(principal, b.ownerId), { name: b.name, slug: b.slug, defaults: b.defaults ?? {} })
    return { status: 201, body: { product: productObject(product) } }
  },
  async getProduct({ ctx, principal, params }) {
    return { status: 200, body: { product: productObject(await getProduct(ctx, scopeOf(principal), params.id!)) } }
  },
  async updateProduct({ ctx, principal, params, body }) {
    return { status: 200, body: { product: productObject(await updateProduct(ctx, scopeOf(principal), { id: params.id!, ...body })) } }
  },
  async deleteProduct({ ctx, principal, params }) {
    await deleteProduct(ctx, scopeOf(principal), params.id!)
    return { status: 204, body: null }
  },
  async listLicenses({ ctx, principal, query }) {
    const q = query as { product?: string, status?: 'active' | 'suspended' | 'expired', customerEmail?: string, externalId?: string, q?: string, ownerId?: string, limit: number, cursor?: string }
    const page = await listLicenses(ctx, scopeOf(principal), {
      ownerId: namedOwner(principal, q.ownerId), product: q.product, status: q.status, customerEmail: q.customerEmail,
      externalId: q.externalId, search: q.q, limit: q.limit, cursor: q.cursor,
    })
    return { status: 200, body: { data: page.items.map(licenseObject), nextCursor: page.nextCursor } }
  },
  async createLicense({ ctx, principal, body }) {
    const { ownerId, renewal, ...rest } = body as { ownerId?: string, renewal?: string | null } & Record<string, unknown>
    const input = parseWith(createLicenseSchema, { ...rest, renewalPeriod: renewal })
    const created = await createLicense(ctx, ownerForCreate(principal, ownerId), input)
    return { status: 201, body: { license: licenseObject(created.license), key: created.key } }
  },
  async lookupLicense({ ctx, principal, body }) {
    return { status: 200, body: { license: withDevices(await findLicenseByKey(ctx, scopeOf(principal), body.key as string)) } }
  },
  async getLicense({ ctx, principal, params }) {
    return { status: 200, body: { license: withDevices(await getLicense(ctx, scopeOf(principal), params.id!)) } }
  },
  async updateLicense({ ctx, principal, params, body }) {
    const { renewal, ...rest } = body as { renewal?: string | null } & Record<string, unknown>
    const input = parseWith(updateLicenseSchema, { id: params.id, ...rest, ...(renewal !== undefined ? { renewalPeriod: renewal } : {}) })
    return { status: 200, body: { license: licenseObject(await updateLicense(ctx, scopeOf(principal), input)) } }
  },
  async deleteLicense({ ctx, principal, params }) {
    await deleteLicense(ctx, scopeOf(principal), params.id!)
    return { status: 204, body: null }
  },
  async suspendLicense({ ctx, principal, params }) {
    return { status: 200, body: { license: licenseObject(await suspendLicense(ctx, scopeOf(principal), params.id!)) } }
  },
  async reinstateLicense({ ctx, principal, params }) {
    return { status: 200, body: { license: licenseObject(await reinstateLicense(ctx, scopeOf(principal), params.id!)) } }
  },
  async renewLicense({ ctx, principal, params, body }) {
    const b = body as { expiresAt?: Date, expiresIn?: string }
    return { status: 200, body: { license: licenseObject(await renewLicense(ctx, scopeOf(principal), { id: params.id!, expiresAt: b.expiresAt, expiresIn: b.expiresIn })) } }
  },
  async freeDevice({ ctx, principal, params }) {
    await freeDevice(ctx, scopeOf(principal), params.id!, params.deviceId!)
    return { status: 204, body: null }
  },
}

const SERVICE_ERRORS: Record<ServiceError['code'], 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'RATE_LIMITED'> = {
  BAD_REQUEST: 'BAD_REQUEST', UNAUTHORIZED: 'UNAUTHORIZED', FORBIDDEN: 'FORBIDDEN', NOT_FOUND: 'NOT_FOUND', CONFLICT: 'CONFLICT', TOO_MANY_REQUESTS: 'RATE_LIMITED',
}

/** A service's refusal in the API's terms: a rule broken on named fields is a 422, with them. */
function apiErrorOf(e: ServiceError): ApiError {
  const fields = e.fieldErrors && Object.keys(e.fieldErrors).length
    ? Object.fromEntries(Object.entries(e.fieldErrors).map(([k, v]) => [k, v[0] ?? e.message]))
    : undefined
  if (e.code === 'BAD_REQUEST' && fields) return new ApiError('VALIDATION_FAILED', e.message, {}, fields)
  const headers: Record<string, string> = e.retryAfterSeconds ? { 'retry-after': String(e.retryAfterSeconds) } : {}
  return new ApiError(SERVICE_ERRORS[e.code], e.message, headers, e.code === 'CONFLICT' ? fields : undefined)
}

const originOf = (url: string) => /^[a-z]+:\/\/[^/?#]+/i.exec(url)?.[0]

function respond(a: Answer, headers: Record<string, string>): Response {
  if (a.status === 204) return new Response(null, { status: 204, headers: { 'cache-control': 'no-store', ...CORS_HEADERS, ...headers } })
  return json(a.status, a.body, headers)
}

/** Answer a management API request (the path is known to be under /api/v1 and not a public route). */
export async function handleManagementApi(request: Request, env: AppEnv, db: DB, waitUntil: (p: Promise<unknown>) => void, pathname: string): Promise<Response> {
  let limit: LimitState | null = null
  try {
    const found = match(request.method, pathname)
    if (!found) throw new ApiError('ROUTE_NOT_FOUND', 'No such route. The API reference: /docs/api')
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS })
    if (!('route' in found)) throw new ApiError('METHOD_NOT_ALLOWED', `Use ${found.allowed.join(' or ')}`, { allow: [...found.allowed, 'OPTIONS'].join(', ') })
    const { route } = found

    let principal: Principal
    try {
      principal = await authenticateApiToken(db, env, request.headers.get('authorization'), p => waitUntil(p.catch(logBackgroundError)))
    }
    catch (error) {
      if (error instanceof TokenError) {
        throw new ApiError('UNAUTHORIZED', error.message, { 'www-authenticate': `${WWW_AUTHENTICATE}${error.reason === 'MISSING' ? '' : ', error="invalid_token"'}` })
      }
      throw error
    }

    const ns = env.RATE_LIMITER as DurableObjectNamespace<RateLimiter> | undefined
    if (ns && env.RATE_LIMITS !== 'off') {
      const admitted = await admitManagementCall(ns, env, principal.userId!)
      limit = admitted.state
      if (!admitted.allowed) throw rateLimitedError(admitted.state, 'Too many management API calls for this account; try again later')
    }
    if (route.write) {
      try {
        requireWrite(principal)
      }
      catch (e) {
        throw e instanceof ServiceError ? apiErrorOf(e) : e
      }
    }

    // A malformed id in the path names no object: 404, like an id that does not exist.
    const params = route.params ? route.params.safeParse(found.params) : null
    if (params && !params.success) throw new ApiError('NOT_FOUND', 'No such object')
    const query = route.query ? parseWith(route.query, queryOf(new URL(request.url))) : {}
    const rawBody = route.body ? await jsonBody(request, route) : {}
    const body = route.body ? parseWith(route.body, rawBody) : {}

    const ctx = createServiceContext({
      db,
      env,
      principal,
      audit: auditInfoOf(request.headers, (request as { cf?: unknown }).cf),
      waitUntil: p => waitUntil(p.catch(logBackgroundError)),
      origin: originOf(request.url),
    })
    const call: Call = { ctx, principal, params: (params?.data ?? {}) as Record<string, string>, query: query as Record<string, unknown>, body: body as Record<string, unknown> }
    const operation = OPERATIONS[route.operationId]!
    const headers: Record<string, string> = limit ? rateLimitHeaders(limit) : {}

    const idempotencyHeader = route.idempotent ? request.headers.get('idempotency-key') : null
    if (idempotencyHeader === null) {
      try {
        return respond(await operation(call), headers)
      }
      catch (e) {
        throw e instanceof ServiceError ? apiErrorOf(e) : e
      }
    }
    const key = idempotencyKeySchema.safeParse(idempotencyHeader)
    if (!key.success) throw new ApiError('BAD_REQUEST', 'Idempotency-Key must be 1–255 visible ASCII characters')
    let claim
    try {
      claim = await claimIdempotencyKey(ctx, principal.userId!, key.data, await requestHashOf(route.operationId, rawBody))
    }
    catch (e) {
      throw e instanceof ServiceError ? apiErrorOf(e) : e
    }
    if (claim.kind === 'replay') return respond(claim.answer as Answer, { ...headers, 'idempotent-replayed': 'true' })
    let answer: Answer
    try {
      answer = await operation(call)
    }
    catch (e) {
      await claim.release().catch(logBackgroundError)
      throw e instanceof ServiceError ? apiErrorOf(e) : e
    }
    // JSON round trip: the replay answers exactly these bytes' meaning (dates as ISO strings).
    await claim.complete({ status: answer.status, body: JSON.parse(JSON.stringify(answer.body)) })
    return respond(answer, headers)
  }
  catch (error) {
    if (error instanceof ApiError) {
      if (error.code !== 'RATE_LIMITED' && limit) Object.assign(error.headers, rateLimitHeaders(limit))
      return errorResponse(error)
    }
    if (error instanceof ZodError) return errorResponse(validationFailed(fieldsOf(error)))
    console.error('management API error:', error instanceof Error ? error.message : 'unknown')
    return errorResponse(new ApiError('INTERNAL', 'Something went wrong on our side'))
  }
}
