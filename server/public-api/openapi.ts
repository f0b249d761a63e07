import { ApiError, errorResponse } from '../lib/public-api'

/**
 * GET /api/v1/openapi.json: the OpenAPI 3.1 document (shared/api/openapi.ts, docs/openapi.md).
 * Generated once per isolate, on the first request for it: the generator and the zod schemas are a
 * dynamic import, a chunk of their own that the verify path never loads. Cacheable, with an ETag.
 */
export const OPENAPI_PATH = '/api/v1/openapi.json'
export const OPENAPI_MAX_AGE = 300

/** CORS for read-only public routes (the document, health): open, no credentials. */
export const READ_CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'If-None-Match',
  'access-control-expose-headers': 'ETag',
  'access-control-max-age': '86400',
}

let cached: Promise<{ text: string, etag: string }> | null = null

async function generate() {
  const { buildOpenApiDocument } = await import('../../shared/api/openapi')
  const text = JSON.stringify(buildOpenApiDocument())
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  const etag = `"${[...digest.slice(0, 12)].map(b => b.toString(16).padStart(2, '0')).join('')}"`
  return { text, etag }
}

export async function openApiResponse(request: Request): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: READ_CORS_HEADERS })
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const res = errorResponse(new ApiError('METHOD_NOT_ALLOWED', 'Use GET', { allow: 'GET, HEAD, OPTIONS' }))
    for (const [k, v] of Object.entries(READ_CORS_HEADERS)) res.headers.set(k, v)
    return res
  }
  if (!cached) {
    cached = generate()
    cached.catch(() => { cached = null })
  }
  const { text, etag } = await cached
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': `public, max-age=${OPENAPI_MAX_AGE}`, 'etag': etag, ...READ_CORS_HEADERS }
  const match = request.headers.get('if-none-match')
  if (match && match.split(',').some(t => t.trim().replace(/^W\//, '') === etag)) return new Response(null, { status: 304, headers })
  return new Response(request.method === 'HEAD' ? null : text, { headers })
}
