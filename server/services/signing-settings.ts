import { JWKS_MAX_AGE, JWKS_PATHS } from '../public-api/jwks'
import { publicKeyOf, signingKey, SigningKeyError } from '../lib/token-signing'
import type { ServiceContext } from './context'
import { publicUrlOf, tokenTtlSeconds } from './signed-answers'

/** Where applications call this installation: for the web app's "Try it" snippets. */
export function integrationInfo(ctx: Pick<ServiceContext, 'env' | 'origin'>) {
  const baseUrl = publicUrlOf(ctx)
  return { baseUrl, jwksUrl: `${baseUrl}${JWKS_PATHS[0]}` }
}

/** Signed answers' configuration for admins (Settings): the JWKS URLs and the kids in use; never key material. */
export async function signingSettings(ctx: Pick<ServiceContext, 'env' | 'origin'>) {
  const { baseUrl } = integrationInfo(ctx)
  const base = {
    issuer: baseUrl,
    publicUrlConfigured: !!ctx.env.PUBLIC_URL?.trim(),
    jwksUrls: JWKS_PATHS.map(p => `${baseUrl}${p}`),
    jwksMaxAgeSeconds: JWKS_MAX_AGE,
    tokenTtlSeconds: tokenTtlSeconds(ctx.env),
  }
  try {
    if (!ctx.env.TOKEN_SIGNING_KEY) throw new SigningKeyError('TOKEN_SIGNING_KEY is not set')
    const kid = (await signingKey(ctx.env.TOKEN_SIGNING_KEY)).kid
    const previousKid = ctx.env.TOKEN_SIGNING_KEY_PREVIOUS ? (await publicKeyOf(ctx.env.TOKEN_SIGNING_KEY_PREVIOUS)).kid : null
    return { ...base, configured: true as const, kid, previousKid: previousKid === kid ? null : previousKid, problem: null }
  }
  catch (error) {
    if (!(error instanceof SigningKeyError)) throw error
    return { ...base, configured: false as const, kid: null, previousKid: null, problem: error.message }
  }
}
