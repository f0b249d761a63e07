import { z } from 'zod'
import { API_ERRORS, type ApiErrorCode } from '../../server/lib/public-api'
import { errorBodySchema, ERROR_CODES, licenseTokenClaimsSchema } from '../schemas/public-api'
import { managementRoutes } from './management-openapi'
import { publicRoutes } from './public-routes'
import type { ApiRoute } from './routes'

/**
 * The OpenAPI 3.1 document, generated from the route tables and their zod schemas with zod 4's
 * own JSON Schema output (`z.toJSONSchema`, draft 2020-12 — the dialect OpenAPI 3.1 uses), so
 * there is no hand-kept copy of any schema (docs/openapi.md). Schemas with a `.meta({ id })`
 * become components; request schemas are converted as inputs (unknown properties allowed, as
 * the server ignores them), answers as outputs (strict).
 */
type Json = Record<string, unknown>

/** All documented operations, in the document's order. */
export function allRoutes(): ApiRoute[] {
  return [...publicRoutes, ...managementRoutes()]
}

const ERROR_DOCS: Record<string, string> = {
  BAD_REQUEST: 'Malformed JSON, not an object, wrong types, missing, empty or over-long fields.',
  UNAUTHORIZED: 'Missing, unknown, expired or revoked API token (with `WWW-Authenticate: Bearer`).',
  FORBIDDEN: 'A read-only token on a write, or a non-admin naming another owner.',
  NOT_FOUND: 'No such object, or another owner\'s: the same answer.',
  ROUTE_NOT_FOUND: 'Unknown path under `/api/v1`.',
  METHOD_NOT_ALLOWED: 'The path exists but not with this method (see `Allow`).',
  CONFLICT: 'A duplicate (e.g. slug or externalId), an object still in use, or an Idempotency-Key reused with another body.',
  PAYLOAD_TOO_LARGE: 'The body is over the limit (8 KiB on the public routes).',
  UNSUPPORTED_MEDIA_TYPE: 'Missing or non-JSON `Content-Type`.',
  VALIDATION_FAILED: 'Well-formed JSON that breaks a rule; `error.fields` says which.',
  RATE_LIMITED: 'Over a rate limit (see `Retry-After`).',
  INTERNAL: 'A fault on the server\'s side (never a stack trace).',
  UNAVAILABLE: 'A dependency is not reachable or not configured.',
}

export const HEADERS: Record<string, { description: string, schema: Json }> = {
  'RateLimit-Limit': { description: 'Calls allowed in the window of the limit that applied.', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Calls left in the window.', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
  'RateLimit-Policy': { description: 'The limit as `<calls>;w=<seconds>`.', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
  'Allow': { description: 'The methods this path answers.', schema: { type: 'string' } },
  'WWW-Authenticate': { description: '`Bearer` (RFC 6750).', schema: { type: 'string' } },
  'ETag': { description: 'A tag of this exact document; send it back as `If-None-Match`.', schema: { type: 'string' } },
}
/** Headers every answer of a status carries, besides the operation's own. */
const STATUS_HEADERS: Record<number, string[]> = { 401: ['WWW-Authenticate'], 405: ['Allow'], 429: ['Retry-After'] }

/** Collects zod schemas as components while converting; refs point at #/components/schemas/<id>. */
class Components {
  readonly schemas: Record<string, Json> = {}
  readonly responses: Record<string, Json> = {}

  /**
   * An error answer as a shared response component (a $ref): operations whose answer for a status
   * is the same share one, named after its codes (BadRequest, NotFound…), a variant numbered.
   */
  response(codes: readonly string[], body: Json): Json {
    const base = codes.map(code => code.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, ch: string) => ch.toUpperCase())).join('Or')
    const text = JSON.stringify(body)
    for (let i = 1; ; i++) {
      const name = i === 1 ? base : `${base}${i}`
      if (!this.responses[name]) this.responses[name] = body
      if (JSON.stringify(this.responses[name]) === text) return { $ref: `#/components/responses/${name}` }
    }
  }

  /** A zod schema as a JSON Schema for the document (a $ref when it has an id). */
  add(schema: z.ZodType, io: 'input' | 'output'): Json {
    const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json
    const defs = (out.$defs ?? {}) as Record<string, Json>
    delete out.$defs
    delete out.$schema
    const rename = new Map<string, string>()
    for (const id of Object.keys(defs)) {
      // The same id converted both ways differs only when the schema's input and output differ.
      let name = id
      if (this.schemas[name] && JSON.stringify(this.schemas[name]) !== JSON.stringify(rewriteRefs(defs[id]!, new Map()))) name = `${id}Input`
      rename.set(id, name)
    }
    for (const [id, def] of Object.entries(defs)) this.schemas[rename.get(id)!] = rewriteRefs(def, rename)
    return rewriteRefs(out, rename)
  }
}

/** `#/$defs/X` → `#/components/schemas/<renamed X>`, deeply. */
function rewriteRefs(node: Json, rename: Map<string, string>): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (!v || typeof v !== 'object') return v
    const o: Json = {}
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')) {
        const id = x.slice('#/$defs/'.length)
        o[k] = `#/components/schemas/${rename.get(id) ?? id}`
      }
      else o[k] = walk(x)
    }
    return o
  }
  return walk(node) as Json
}

/** Each property of a zod object as one OpenAPI parameter. */
function parameters(c: Components, where: 'path' | 'query' | 'header', obj: z.ZodObject | undefined): Json[] {
  if (!obj) return []
  const s = c.add(obj, 'input') as { properties?: Record<string, Json>, required?: string[] }
  return Object.entries(s.properties ?? {}).map(([name, schema]) => {
    const { description, ...rest } = schema
    return { name, in: where, required: where === 'path' || (s.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest }
  })
}

const headerRefs = (names: string[]) => Object.fromEntries(names.map(n => [n, { $ref: `#/components/headers/${n}` }]))

/** The error answers of an operation, grouped by status, each code with its example. */
function errorResponses(c: Components, route: ApiRoute): Record<string, Json> {
  const byStatus = new Map<number, ApiErrorCode[]>()
  for (const code of Object.keys(route.errors) as ApiErrorCode[]) {
    const status = API_ERRORS[code]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: Record<string, Json> = {}
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    // The one error shape, with `code` narrowed to what this status can carry here.
    const schema = c.add(errorBodySchema(codes), 'output') as { properties: { error: { properties: { code: Json } } } }
    // Every code is one named enum (ErrorCode, with what each means); this answer narrows it.
    schema.properties.error.properties.code = { $ref: '#/components/schemas/ErrorCode', enum: codes }
    out[String(status)] = c.response(codes, {
      description: codes.map(code => `\`${code}\`: ${ERROR_DOCS[code] ?? ''}`.trim()).join(' '),
      ...(STATUS_HEADERS[status] ? { headers: headerRefs(STATUS_HEADERS[status]!) } : {}),
      content: {
        'application/json': {
          schema,
          examples: Object.fromEntries(codes.map(code => [code, { summary: code, value: { error: { code, message: route.errors[code] } } }])),
        },
      },
    })
  }
  return out
}

function operation(c: Components, route: ApiRoute): Json {
  const responses: Record<string, Json> = {}
  for (const r of route.responses) {
    responses[String(r.status)] = {
      description: r.description,
      ...(r.headers?.length ? { headers: headerRefs(r.headers) } : {}),
      ...(r.schema
        ? {
            content: {
              [r.mediaType ?? 'application/json']: {
                schema: c.add(r.schema, 'output'),
                ...(r.examples ? { examples: r.examples } : {}),
              },
            },
          }
        : {}),
    }
  }
  Object.assign(responses, errorResponses(c, route))
  const params = [...parameters(c, 'path', route.params), ...parameters(c, 'query', route.query), ...parameters(c, 'header', route.headers)]
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'bearer' ? [{ bearerAuth: [] }] : [],
    ...(params.length ? { parameters: params } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: !route.body.optional,
            ...(route.body.description ? { description: route.body.description } : {}),
            content: { 'application/json': { schema: c.add(route.body.schema, 'input'), ...(route.body.examples ? { examples: route.body.examples } : {}) } },
          },
        }
      : {}),
    responses,
  }
}

const BEARER = { type: 'http', scheme: 'bearer', bearerFormat: 'lm_…', description: 'An API token: `lm_` + 32 Crockford symbols, acting with its owner\'s rights (Account → API tokens, or `lm token create`). Never in a cookie or the query string.' }

const TAGS: Record<string, string> = {
  Public: 'For your application: verify a key, activate and free devices, fetch the keys that verify signed answers. No authentication, CORS open.',
  Products: 'Your apps or editions; licenses may belong to one.',
  Licenses: 'Issue, find, change and revoke licenses from your checkout, CRM or support tool.',
}

const errorTable = () => ERROR_CODES.map(code => `| ${API_ERRORS[code]} | \`${code}\` | ${ERROR_DOCS[code] ?? ''} |`).join('\n')

export function buildOpenApiDocument(opts: { version?: string } = {}): Json {
  const c = new Components()
  const routes = allRoutes()
  const paths: Record<string, Record<string, Json>> = {}
  for (const route of routes) (paths[route.path] ??= {})[route.method] = operation(c, route)
  // The signed token's claims (referenced by the answers' `token.contentSchema`).
  c.add(licenseTokenClaimsSchema, 'output')
  c.schemas.ErrorCode = {
    type: 'string',
    enum: ERROR_CODES,
    description: `\`error.code\` of every error answer:\n\n${ERROR_CODES.map(code => `- \`${code}\` (${API_ERRORS[code]}): ${ERROR_DOCS[code] ?? ''}`).join('\n')}`,
  }
  const tags = [...new Set(routes.map(r => r.tag))]
  const used = JSON.stringify([paths, c.responses])
  const headers = Object.fromEntries(Object.entries(HEADERS).filter(([name]) => used.includes(`"#/components/headers/${name}"`)))
  return {
    openapi: '3.1.1',
    info: {
      title: 'License Manager API',
      version: opts.version ?? '1',
      summary: 'Verify license keys from your app; manage products and licenses from your systems.',
      description: [
        'Every route lives under `/api/v1` on your installation. The **public routes** (tag *Public*) take a license key and need no authentication; '
        + 'a well-formed call always answers 200 with the business outcome in `code`. The **management routes** take an API token '
        + '(`Authorization: Bearer lm_…`, created under Account → API tokens or with `lm token create`).',
        '',
        'Every error has the same body, `{ "error": { "code", "message" } }` (plus `fields` for `VALIDATION_FAILED`); CORS preflight (`OPTIONS`) answers 204 on every route, and `HEAD` answers as `GET` without a body.',
        '',
        '| status | code | when |',
        '| --- | --- | --- |',
        errorTable(),
      ].join('\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'This installation' }],
    tags: tags.map(name => ({ name, description: TAGS[name] ?? name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(c.schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: Object.fromEntries(Object.entries(c.responses).sort(([a], [b]) => a.localeCompare(b))),
      headers,
      // Only once a route uses it (an unused scheme is a lint error, redocly.yaml).
      ...(routes.some(r => r.auth === 'bearer') ? { securitySchemes: { bearerAuth: BEARER } } : {}),
    },
  }
}

let built: string | undefined
/** The document as JSON text, built once per isolate (the server render of /docs/api reads it). */
export function cachedOpenApiDocumentText(): string {
  return built ??= JSON.stringify(buildOpenApiDocument())
}
