/**
 * The public REST API's protocol layer: one closed error-code set, one code→status map, CORS on
 * every answer, and strict request parsing. Business outcomes are 200s with a `code` (README, "Integrate in your app").
 */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  // The management API's (docs/management-api.md) besides the public routes' own.
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const
export type ApiErrorCode = keyof typeof API_ERRORS

export const MAX_BODY_BYTES = 8 * 1024
export const ROUTES = ['verify', 'activate', 'deactivate', 'heartbeat'] as const
export type Route = (typeof ROUTES)[number]

export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'Content-Type',
  'access-control-expose-headers': 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset',
  'access-control-max-age': '86400',
}

export function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...CORS_HEADERS, ...extra },
  })
}

export class ApiError extends Error {
  constructor(
    public readonly code: ApiErrorCode,
    message: string,
    public readonly headers: Record<string, string> = {},
    /** VALIDATION_FAILED: field → what is wrong with it. */
    public readonly fields?: Record<string, string>,
  ) {
    super(message)
  }
}

export function errorResponse(e: ApiError): Response {
  return json(API_ERRORS[e.code], { error: e.fields ? { code: e.code, message: e.message, fields: e.fields } : { code: e.code, message: e.message } }, e.headers)
}

/** Content-Type must be JSON (parameters such as charset allowed). */
export function isJsonContentType(value: string | null): boolean {
  if (!value) return false
  const type = value.split(';')[0]!.trim().toLowerCase()
  return type === 'application/json'
}

/** `product`: the slug of the product the calling application is (PRODUCT_MISMATCH when the license is not for it). */
export interface Fields { key: string, fingerprint?: string, name?: string, product?: string, nonce?: string, signed?: boolean }
export type StringField = 'key' | 'fingerprint' | 'name' | 'product' | 'nonce'

export const FIELD_RULES: Record<Route, { required: StringField[], optional: StringField[] }> = {
  verify: { required: ['key'], optional: ['fingerprint'] },
  activate: { required: ['key', 'fingerprint'], optional: ['name'] },
  deactivate: { required: ['key', 'fingerprint'], optional: [] },
  heartbeat: { required: ['key', 'fingerprint'], optional: [] },
}
/** Optional on every route: the caller's product, a nonce to echo, and `signed` for a signed token (docs/offline.md). */
export const COMMON_OPTIONAL: StringField[] = ['product', 'nonce']
export const MAX_LENGTH: Record<StringField, number> = { key: 256, fingerprint: 256, name: 128, product: 256, nonce: 128 }

function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * Parse and check a body for a route: an object whose fields are non-empty strings within limits.
 * A hand-written reader of the rules above, kept off zod on the verify path; the zod schemas the
 * OpenAPI document is generated from (shared/schemas/public-api.ts) are built from the same rules,
 * and tests/unit/public-api-schemas.test.ts proves both accept and refuse the same bodies.
 */
export function parseBody(route: Route, text: string): Fields {
  let data: unknown
  try {
    data = JSON.parse(text)
  }
  catch {
    throw new ApiError('BAD_REQUEST', 'Body is not valid JSON')
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ApiError('BAD_REQUEST', 'Body must be a JSON object')
  const obj = data as Record<string, unknown>
  const out: Partial<Fields> = {}
  const rules = FIELD_RULES[route]
  for (const field of [...rules.required, ...rules.optional, ...COMMON_OPTIONAL]) {
    // Own properties only: "__proto__" and friends are never read through the prototype chain.
    const value = Object.prototype.hasOwnProperty.call(obj, field) ? obj[field] : undefined
    if (value === undefined) {
      if (rules.required.includes(field)) throw new ApiError('BAD_REQUEST', `"${field}" is required`)
      continue
    }
    if (typeof value !== 'string') throw new ApiError('BAD_REQUEST', `"${field}" must be a string`)
    if (value.length === 0) throw new ApiError('BAD_REQUEST', `"${field}" must not be empty`)
    // Characters are Unicode code points, as JSON Schema's maxLength (and zod) count them; a string
    // within the limit in UTF-16 units is within it in code points, so only an overflow is counted.
    if (value.length > MAX_LENGTH[field] && codePoints(value) > MAX_LENGTH[field]) throw new ApiError('BAD_REQUEST', `"${field}" must be at most ${MAX_LENGTH[field]} characters`)
    out[field] = value
  }
  const signed = Object.prototype.hasOwnProperty.call(obj, 'signed') ? obj.signed : undefined
  if (signed !== undefined) {
    if (typeof signed !== 'boolean') throw new ApiError('BAD_REQUEST', '"signed" must be true or false')
    out.signed = signed
  }
  return out as Fields
}

const UTF8 = new TextDecoder()

/** Read at most `max` bytes of a body (public routes: MAX_BODY_BYTES; the management API its own); more is 413 (also when Content-Length lies or is absent). */
export async function readBody(request: Request, max = MAX_BODY_BYTES): Promise<string> {
  const length = request.headers.get('content-length')
  const declared = Number(length ?? 0)
  if (declared > max) throw new ApiError('PAYLOAD_TOO_LARGE', `Body must be at most ${max} bytes`)
  if (!request.body) return ''
  // A stated length within the limit: HTTP framing ends the body there, so it is read in one call
  // (the verify path's common case; a stream of chunks costs several calls into the runtime).
  if (length !== null && Number.isInteger(declared) && declared >= 0) {
    const whole = await request.arrayBuffer()
    if (whole.byteLength > max) throw new ApiError('PAYLOAD_TOO_LARGE', `Body must be at most ${max} bytes`)
    return UTF8.decode(whole)
  }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      void reader.cancel().catch(() => {})
      throw new ApiError('PAYLOAD_TOO_LARGE', `Body must be at most ${max} bytes`)
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return UTF8.decode(chunks[0])
  const all = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    all.set(c, at)
    at += c.byteLength
  }
  return UTF8.decode(all)
}
