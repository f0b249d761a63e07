import { addDuration, parseDuration } from '../lib/duration'
import { normalizeKey } from '../lib/keys'
import { toBase64Url } from '../lib/random'
import { signingKey, SigningKeyError, signToken } from '../lib/token-signing'
import { ApiError } from '../lib/public-api'
import type { AppEnv } from '../env'
import { nowOf, type ServiceContext } from './context'

/**
 * Nonces and signed answers on the public routes (docs/offline.md). A route's answer goes through
 * `finishAnswer`: the nonce is echoed, and with `signed: true` an answer about an existing license
 * gets a `token` — built from what the route's single lookup already read, so no extra D1 call.
 */
export interface AnswerOptions {
  /** Echoed as `nonce` in the answer and the token (1–128 characters, checked by the door). */
  nonce?: string
  /** Ask for a signed token. */
  signed?: boolean
}

/** The license as a public answer shows it (verify's `license`); also the token's `license` claim. */
export interface PublicLicense {
  expiresAt: string | null
  metadata: Record<string, unknown>
  devices: { used: number, max: number | null }
  graceEndsAt?: string | null
}

/** What a token says about the license, from the route's own lookup. */
export interface Signable {
  valid: boolean
  license: PublicLicense
  /** The license's product slug, null when it has none. */
  product: string | null
}

const DEFAULT_TTL_SECONDS = 7 * 86_400
let warnedTtl = false

/** TOKEN_TTL: a duration (12h, 7d, 2w, 1mo, 1y) or whole seconds; default 7 days. */
export function tokenTtlSeconds(env: Pick<AppEnv, 'TOKEN_TTL'>): number {
  const v = env.TOKEN_TTL?.trim()
  if (!v) return DEFAULT_TTL_SECONDS
  if (/^\d{1,9}$/.test(v) && Number(v) > 0) return Number(v)
  const d = parseDuration(v)
  if (d) return Math.round(addDuration(new Date(0), d).getTime() / 1000)
  if (!warnedTtl) {
    warnedTtl = true
    console.warn('TOKEN_TTL is not a duration (e.g. 7d) or a number of seconds: using 7 days')
  }
  return DEFAULT_TTL_SECONDS
}

/** The installation's public URL (the tokens' `iss`): PUBLIC_URL, else the origin the request came to. */
export function publicUrlOf(ctx: Pick<ServiceContext, 'env' | 'origin'>): string {
  const configured = ctx.env.PUBLIC_URL?.trim().replace(/\/+$/, '')
  if (configured && /^https?:\/\/[^/\s]+/i.test(configured)) return configured
  return ctx.origin ?? 'http://localhost'
}

/** `kh`: base64url (unpadded) SHA-256 of the key's canonical body — binds a token to a key without revealing it. */
export async function keyHash(canonicalBody: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalBody))))
}

const toSeconds = (iso: string | null | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) : null)

/**
 * Echo the nonce and, when asked for and the license exists (`signable`), add the signed token.
 * Claims: iss, iat, nbf, exp (iat + TOKEN_TTL, never past the license's expiry or grace end), code,
 * valid, license, product, fingerprint (if sent), nonce (if sent), kh. Nothing else.
 */
export async function finishAnswer<T extends { code: string }>(
  ctx: ServiceContext,
  input: AnswerOptions & { key: string, fingerprint?: string },
  body: T,
  signable: Signable | null,
): Promise<T & { nonce?: string, token?: string }> {
  const out: T & { nonce?: string, token?: string } = body
  if (input.nonce !== undefined) out.nonce = input.nonce
  if (!input.signed || !signable) return out
  const canonical = normalizeKey(input.key)
  if (!canonical) return out // a license was found, so this cannot happen; never sign for a key we cannot bind
  const iat = Math.floor(nowOf(ctx).getTime() / 1000)
  const cap = toSeconds(signable.license.graceEndsAt) ?? toSeconds(signable.license.expiresAt)
  const exp = Math.min(iat + tokenTtlSeconds(ctx.env), cap ?? Number.POSITIVE_INFINITY)
  const claims: Record<string, unknown> = {
    iss: publicUrlOf(ctx),
    iat,
    nbf: iat,
    exp,
    code: body.code,
    valid: signable.valid,
    license: signable.license,
    product: signable.product,
  }
  if (input.fingerprint !== undefined) claims.fingerprint = input.fingerprint
  if (input.nonce !== undefined) claims.nonce = input.nonce
  claims.kh = await keyHash(canonical)
  out.token = await signToken(await signingKeyOf(ctx.env), claims)
  return out
}

let warnedKey = false
/** The current signing key; a missing or unusable TOKEN_SIGNING_KEY is 503 (the message names the setting, never the value). */
export async function signingKeyOf(env: Pick<AppEnv, 'TOKEN_SIGNING_KEY'>) {
  try {
    if (!env.TOKEN_SIGNING_KEY) throw new SigningKeyError('TOKEN_SIGNING_KEY is not set')
    return await signingKey(env.TOKEN_SIGNING_KEY)
  }
  catch (error) {
    if (!(error instanceof SigningKeyError)) throw error
    if (!warnedKey) {
      warnedKey = true
      console.error(`signed answers are unavailable: ${error.message} (docs/offline.md)`)
    }
    throw new ApiError('UNAVAILABLE', 'Signed answers are not configured on this server')
  }
}
