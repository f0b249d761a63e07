import type { DurableObjectNamespace } from '@cloudflare/workers-types'
import { createDB } from '../../db/client'
import { EVENTS_LOST } from '../../db/schema/counters'
import type { RateLimiter } from '../durable/rate-limiter'
import type { AppEnv } from '../env'
import { ApiError, CORS_HEADERS, errorResponse, isJsonContentType, json, parseBody, readBody, ROUTES, type Route } from '../lib/public-api'
import { countingD1, d1CountHeaders, d1CountingOn } from '../lib/d1-count'
import { d1FaultsOn, faultyD1 } from '../lib/d1-faults'
import { ipLimitKey } from '../lib/ip'
import { rateLimitHeaders, rateLimitSettings, RequestLimiter } from '../lib/rate-limit'
import { createServiceContext, logBackgroundError } from '../services/context'
import { auditInfoOf, clientIpOf } from '../utils/audit'
import { activateDevice, deactivateDevice, heartbeatDevice, verifyLicense } from '../services/validation'
import { handleManagementApi } from '../management-api/handler'
import { recordAnomaly } from '../services/limit-events'
import { JWKS_API_PATH, jwksResponse } from './jwks'
import { OPENAPI_PATH, openApiResponse, READ_CORS_HEADERS } from './openapi'

/**
 * Public REST API for developers' applications: POST /api/v1/licenses/{verify,activate,deactivate,heartbeat}.
 * Served straight from the Worker's fetch entry (server/entry.ts), before Nitro, h3, the renderer
 * or tRPC see the request: route → brute-force gate (before the body is read) → body → service.
 * Other paths under /api/v1 go to the management API (server/management-api/handler.ts), which
 * answers unknown ones ROUTE_NOT_FOUND in the same error shape.
 */
export function isPublicApiPath(pathname: string): boolean {
  return pathname === '/api/v1' || pathname.startsWith('/api/v1/')
}

const ROUTE_RE = /^\/api\/v1\/licenses\/([a-z]+)\/?$/
/** scheme://host[:port] of a request URL (the tokens' `iss` when PUBLIC_URL is unset). */
const originOf = (url: string) => /^[a-z]+:\/\/[^/?#]+/i.exec(url)?.[0]

/**
 * Test-only clock (docs/policies.md): with the var LM_TEST_CLOCK=1 — never set by wrangler.toml or
 * `npm start` — a request's `X-LM-Test-Now` (ISO 8601 or epoch ms) is the time the services see, so
 * tests of leases, grace and churn windows control time instead of sleeping. Otherwise ignored.
 */
function testClockOf(env: AppEnv, headers: Headers): Date | null {
  if (env.LM_TEST_CLOCK !== '1') return null
  const v = headers.get('x-lm-test-now')
  if (!v) return null
  const d = new Date(/^\d+$/.test(v) ? Number(v) : v)
  if (Number.isNaN(d.getTime())) throw new ApiError('BAD_REQUEST', 'X-LM-Test-Now must be an ISO date or epoch milliseconds')
  return d
}

let warnedNoLimiter = false
/** Drizzle over a D1 binding, once per binding object (building it maps the whole schema). */
const dbs = new WeakMap<object, ReturnType<typeof createDB>>()
function dbFor(binding: AppEnv['DB']) {
  let db = dbs.get(binding)
  if (!db) dbs.set(binding, (db = createDB(binding)))
  return db
}

export async function handlePublicApi(request: Request, env: AppEnv, waitUntil: (p: Promise<unknown>) => void, pathname = new URL(request.url).pathname): Promise<Response> {
  // Test-only D1 fault injection (server/lib/d1-faults.ts): off unless LM_FAULTS=1.
  if (d1FaultsOn(env)) env = { ...env, DB: faultyD1(env.DB) }
  // The benchmark's D1 statement counting (server/lib/d1-count.ts): off unless LM_COUNT_D1=1.
  if (d1CountingOn(env)) {
    const counter = countingD1(env.DB)
    const res = await answer(request, { ...env, DB: counter.binding }, waitUntil, pathname)
    for (const [k, v] of Object.entries(d1CountHeaders(counter.counts))) res.headers.set(k, v)
    return res
  }
  return await answer(request, env, waitUntil, pathname)
}

const HEALTH = JSON.stringify({ ok: true })
/** Readiness in one D1 statement: is the database reachable, and how many audit events were lost (server/services/events.ts). */
const HEALTH_SQL = `select coalesce((select value from system_counters where name = '${EVENTS_LOST}'), 0) as events_lost`

async function answer(request: Request, env: AppEnv, waitUntil: (p: Promise<unknown>) => void, pathname: string): Promise<Response> {
  let limiter: RequestLimiter | null = null
  try {
    // Liveness for uptime checks (and the benchmark's floor: the cheapest answer this Worker gives).
    // `?deep=1` also runs one D1 statement (readiness: is the database reachable?) that reads the
    // count of audit events lost after every retry — an operator's alarm (docs/system-log.md).
    if (pathname === '/api/v1/health') {
      if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: READ_CORS_HEADERS })
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new ApiError('METHOD_NOT_ALLOWED', 'Use GET', { allow: 'GET, HEAD, OPTIONS' })
      let body = HEALTH
      if (request.url.endsWith('?deep=1')) {
        let lost: number
        try {
          lost = Number((await env.DB.prepare(HEALTH_SQL).first<{ events_lost: number }>())?.events_lost ?? 0)
        }
        catch {
          throw new ApiError('UNAVAILABLE', 'The database is not reachable')
        }
        body = JSON.stringify({ ok: true, database: 'ok', eventsLost: lost })
      }
      return new Response(request.method === 'HEAD' ? null : body, { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...CORS_HEADERS } })
    }
    if (pathname === JWKS_API_PATH) return await jwksResponse(request, env)
    const match = ROUTE_RE.exec(pathname)
    const route = match && (ROUTES as readonly string[]).includes(match[1]!) ? match[1] as Route : null
    // Not a public route (off the verify path): this document, else the management API's, which
    // answers ROUTE_NOT_FOUND for a path of neither.
    if (!route) {
      if (pathname === OPENAPI_PATH) return await openApiResponse(request)
      return await handleManagementApi(request, env, dbFor(env.DB), waitUntil, pathname)
    }
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS })

    // The brute-force guard's key: the IPv6 /64 or IPv4 address; no readable IP shares one bucket.
    const ip = ipLimitKey(clientIpOf(request.headers))
    const ns = env.RATE_LIMITER as DurableObjectNamespace<RateLimiter> | undefined
    if (ns && env.RATE_LIMITS !== 'off') {
      limiter = new RequestLimiter(ns, rateLimitSettings(env), ip, waitUntil)
      limiter.gate() // a blocked IP is refused before anything else, its body unread
    }
    else if (!ns && !warnedNoLimiter) {
      warnedNoLimiter = true
      console.warn('RATE_LIMITER binding missing: public API rate limits are off (see wrangler.toml)')
    }

    if (request.method !== 'POST') throw new ApiError('METHOD_NOT_ALLOWED', 'Use POST', { allow: 'POST, OPTIONS' })
    if (!isJsonContentType(request.headers.get('content-type'))) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json')
    const text = await readBody(request)
    if (!text) throw new ApiError('BAD_REQUEST', 'Body is empty')
    const fields = parseBody(route, text)

    const testNow = testClockOf(env, request.headers)
    const ctx = createServiceContext({
      ...(testNow ? { now: () => new Date(testNow.getTime()) } : {}),
      db: dbFor(env.DB),
      env,
      actor: { type: 'api', id: null },
      audit: auditInfoOf(request.headers, (request as { cf?: unknown }).cf),
      waitUntil: p => waitUntil(p.catch(logBackgroundError)),
      origin: originOf(request.url),
    })
    if (limiter) {
      // license.anomaly from the rate limiter's distinct-IP counts: written as the system, after the responses.
      const systemCtx = createServiceContext({ ...ctx, actor: { type: 'system', id: null }, audit: { ip: '', userAgent: '', country: null } })
      limiter.onAnomaly = anomalies => Promise.all(anomalies.map(a => recordAnomaly(systemCtx, a)))
    }
    const lim = limiter ?? undefined
    let body: unknown
    const answer = { nonce: fields.nonce, signed: fields.signed }
    switch (route) {
      case 'verify': body = await verifyLicense(ctx, { key: fields.key, fingerprint: fields.fingerprint, product: fields.product, ...answer }, lim); break
      case 'activate': body = await activateDevice(ctx, { key: fields.key, fingerprint: fields.fingerprint!, name: fields.name, product: fields.product, ...answer }, lim); break
      case 'deactivate': body = await deactivateDevice(ctx, { key: fields.key, fingerprint: fields.fingerprint!, product: fields.product, ...answer }, lim); break
      case 'heartbeat': body = await heartbeatDevice(ctx, { key: fields.key, fingerprint: fields.fingerprint!, product: fields.product, ...answer }, lim); break
    }
    return json(200, body, limiter?.state ? rateLimitHeaders(limiter.state) : {})
  }
  catch (error) {
    if (error instanceof ApiError) {
      // 429s carry their own headers; other errors carry the limit that applied, if any.
      if (error.code !== 'RATE_LIMITED' && limiter?.state) Object.assign(error.headers, rateLimitHeaders(limiter.state))
      return errorResponse(error)
    }
    console.error('public API error:', error instanceof Error ? error.message : 'unknown')
    return errorResponse(new ApiError('INTERNAL', 'Something went wrong on our side'))
  }
}

