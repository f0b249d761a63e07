/**
 * The Worker's entry (Nitro `entry`, replacing the cloudflare-module preset's own, which it
 * otherwise mirrors). Two additions:
 * - the public REST API (/api/v1/…) and the JWKS (/.well-known/jwks.json) are answered here, before
 *   Nitro buffers the body and before h3, the renderer or tRPC are involved: the verify path is the
 *   product's heartbeat;
 * - it exports the RateLimiter Durable Object class (a Worker must export its DO classes from
 *   the main module).
 */
import '#nitro-internal-pollyfills'
// @ts-expect-error Nitro virtual module, resolved at build time.
import { isPublicAssetURL } from '#nitro-internal-virtual/public-assets'
import { createHandler } from 'nitropack/presets/cloudflare/runtime/_module-handler'
import type { AppEnv } from './env'
import { handlePublicApi, isPublicApiPath } from './public-api/handler'
import { JWKS_PATHS, jwksResponse } from './public-api/jwks'

export { RateLimiter } from './durable/rate-limiter'

export default createHandler<AppEnv & { ASSETS?: { fetch: (r: unknown) => Promise<Response> } }>({
  fetch(request, env, context, url) {
    if (isPublicApiPath(url.pathname)) return handlePublicApi(request as unknown as Request, env, p => context.waitUntil(p), url.pathname)
    if (url.pathname === JWKS_PATHS[0]) return jwksResponse(request as unknown as Request, env)
    if (env.ASSETS && isPublicAssetURL(url.pathname)) return env.ASSETS.fetch(request)
  },
})
