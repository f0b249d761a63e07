import { compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from 'jose'

/** The license as a signed answer describes it. */
export interface LicenseInfo {
  expiresAt: string | null
  metadata: Record<string, unknown>
  devices: { used: number, max: number | null }
  graceEndsAt?: string | null
}

/** A token's claims (docs/offline.md in the License Manager repository). */
export interface LicenseClaims {
  iss: string
  iat: number
  nbf: number
  exp: number
  code: string
  valid: boolean
  license: LicenseInfo
  product: string | null
  fingerprint?: string
  nonce?: string
  kh: string
}

export const TOKEN_TYPE = 'lm-license+jwt'

/** Why a token was refused. */
export class TokenError extends Error {
  constructor(message: string, readonly reason: 'signature' | 'unknown-key' | 'claims' | 'binding') {
    super(message)
    this.name = 'TokenError'
  }
}

/**
 * The key's canonical body, as the server digests it: upper case, no whitespace or dashes, the LM
 * prefix dropped, Crockford folding (O→0, I/L→1). null when it cannot be a key.
 */
export function canonicalKey(key: string): string | null {
  let s = key.toUpperCase().replace(/[\s-]+/g, '')
  if (s.length === 32 && s.startsWith('LM')) s = s.slice(2)
  if (s.length !== 30) return null
  s = s.replace(/O/g, '0').replace(/[IL]/g, '1')
  return /^[0-9A-HJKMNP-TV-Z]{30}$/.test(s) ? s : null
}

function base64url(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** `kh`: base64url SHA-256 of the canonical body. */
export async function keyHash(key: string): Promise<string | null> {
  const body = canonicalKey(key)
  if (!body) return null
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))))
}

export function randomNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)))
}

function isClaims(p: unknown): p is LicenseClaims {
  const c = p as Record<string, unknown> | null
  return !!c && typeof c === 'object'
    && typeof c.iss === 'string' && typeof c.iat === 'number' && typeof c.nbf === 'number' && typeof c.exp === 'number'
    && typeof c.code === 'string' && typeof c.valid === 'boolean' && typeof c.kh === 'string'
    && (c.product === null || typeof c.product === 'string')
    && !!c.license && typeof c.license === 'object'
    && (c.fingerprint === undefined || typeof c.fingerprint === 'string')
    && (c.nonce === undefined || typeof c.nonce === 'string')
}

export interface Expected {
  /** kh of the key the caller holds. */
  kh: string
  issuer?: string | false
  product?: string
  /** The fingerprint sent (or undefined: the token must carry none). */
  fingerprint?: string
  /** The nonce sent: omitted for a cached token. */
  nonce?: string
}

/**
 * Check a token's signature (EdDSA only, `typ` lm-license+jwt, `kid` in the keys) and its binding:
 * issuer, kh, product, fingerprint and nonce. Time is the caller's business (an expired license's
 * token is signed but already past its exp), so it is not checked here.
 */
export async function verifyToken(token: string, jwks: JSONWebKeySet, expected: Expected): Promise<{ claims: LicenseClaims, kid: string }> {
  let result
  try {
    result = await compactVerify(token, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] })
  }
  catch (error) {
    if (error instanceof errors.JWKSNoMatchingKey) throw new TokenError('no key in the JWKS matches the token', 'unknown-key')
    throw new TokenError(`the signature does not verify (${(error as Error).message})`, 'signature')
  }
  const { protectedHeader, payload } = result
  if (protectedHeader.typ !== TOKEN_TYPE || typeof protectedHeader.kid !== 'string') throw new TokenError('not a license token (typ/kid)', 'claims')
  let claims: unknown
  try {
    claims = JSON.parse(new TextDecoder().decode(payload))
  }
  catch {
    throw new TokenError('the payload is not JSON', 'claims')
  }
  if (!isClaims(claims)) throw new TokenError('the claims are not a license answer', 'claims')
  if (expected.issuer !== false && expected.issuer !== undefined && claims.iss !== expected.issuer) throw new TokenError('issued by another installation', 'binding')
  if (claims.kh !== expected.kh) throw new TokenError('the token is for another key', 'binding')
  if (expected.product !== undefined && claims.product !== expected.product) throw new TokenError('the token is for another product', 'binding')
  if ((claims.fingerprint ?? null) !== (expected.fingerprint ?? null)) throw new TokenError('the token is for another device', 'binding')
  if (expected.nonce !== undefined && claims.nonce !== expected.nonce) throw new TokenError('the nonce differs: a replayed answer', 'binding')
  return { claims, kid: protectedHeader.kid }
}
