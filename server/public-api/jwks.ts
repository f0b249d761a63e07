import type { AppEnv } from '../env'
import { ApiError, errorResponse } from '../lib/public-api'
import { jwksOf, SigningKeyError } from '../lib/token-signing'

/**
 * The public keys that verify signed answers, as a JWKS (RFC 7517), at /.well-known/jwks.json and
 * /api/v1/jwks.json. Cacheable for JWKS_MAX_AGE seconds: during a rotation the previous key stays
 * listed, and clients refetch when they meet an unknown `kid` (docs/offline.md).
 */
export const JWKS_PATHS = ['/.well-known/jwks.json', '/api/v1/jwks.json'] as const
export const JWKS_API_PATH = JWKS_PATHS[1]
export const JWKS_MAX_AGE = 300

const HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-max-age': '86400',
}

/** The serialized JWKS per key pair, once per isolate. */
const bodies = new Map<string, Promise<string>>()

export async function jwksResponse(request: Request, env: Pick<AppEnv, 'TOKEN_SIGNING_KEY' | 'TOKEN_SIGNING_KEY_PREVIOUS'>): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: HEADERS })
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return withHeaders(errorResponse(new ApiError('METHOD_NOT_ALLOWED', 'Use GET', { allow: 'GET, HEAD, OPTIONS' })))
  }
  const id = `${env.TOKEN_SIGNING_KEY ?? ''}\u0000${env.TOKEN_SIGNING_KEY_PREVIOUS ?? ''}`
  let body = bodies.get(id)
  if (!body) {
    body = jwksOf(env).then(jwks => JSON.stringify(jwks))
    body.catch(() => bodies.delete(id))
    bodies.set(id, body)
  }
  try {
    const text = await body
    return new Response(request.method === 'HEAD' ? null : text, {
      headers: { 'content-type': 'application/jwk-set+json; charset=utf-8', 'cache-control': `public, max-age=${JWKS_MAX_AGE}`, ...HEADERS },
    })
  }
  catch (error) {
    if (!(error instanceof SigningKeyError)) throw error
    console.error(`JWKS unavailable: ${error.message} (docs/offline.md)`)
    return withHeaders(errorResponse(new ApiError('UNAVAILABLE', 'Signed answers are not configured on this server')))
  }
}

function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(HEADERS)) res.headers.set(k, v)
  return res
}
