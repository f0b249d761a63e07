import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose'
import { fromBase64 } from './random'

/**
 * Ed25519 keys for signed answers (docs/offline.md). TOKEN_SIGNING_KEY is a Worker secret in one of
 * three forms — PKCS#8 PEM, the base64 of PKCS#8 DER on one line (what `npm start` writes into
 * .dev.vars), or a private JWK (`{"kty":"OKP","crv":"Ed25519","d":…,"x":…}`). TOKEN_SIGNING_KEY_PREVIOUS,
 * during a rotation, may also be a public key (JWK without `d`, or SPKI PEM): only its public half is used.
 *
 * Keys are imported once per isolate and secret value (the promise is cached), never per request.
 */
export const TOKEN_TYPE = 'lm-license+jwt'
export const TOKEN_ALG = 'EdDSA'

export interface PublicJwk { kty: 'OKP', crv: 'Ed25519', x: string, kid: string, alg: 'EdDSA', use: 'sig' }
export interface SigningKey { kid: string, privateKey: CryptoKey, publicJwk: PublicJwk }

/** Refused or unusable key material; the message never contains the key. */
export class SigningKeyError extends Error {}

const ED25519 = { name: 'Ed25519' } as const

/** Base64 to bytes, or null when it is not base64 (atob throws). */
function decoded(b64: string): Uint8Array<ArrayBuffer> | null {
  try {
    return fromBase64(b64)
  }
  catch {
    return null
  }
}

function pemBody(text: string): { der: Uint8Array<ArrayBuffer> | null, label: string } | null {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text.replace(/\\n/g, '\n'))
  if (!m) return null
  return { label: m[1]!, der: decoded(m[2]!.replace(/\s+/g, '')) }
}

async function publicOf(jwk: JsonWebKey): Promise<PublicJwk> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new SigningKeyError('not an Ed25519 key')
  const thumb = { kty: 'OKP', crv: 'Ed25519', x: jwk.x }
  // RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
  const kid = await calculateJwkThumbprint(thumb as JWK, 'sha256')
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' }
}

/** The key as a JWK: with its private part (`d`) for a private key, without for a public one. */
async function toJwk(value: string): Promise<JsonWebKey> {
  const text = value.trim()
  if (!text) throw new SigningKeyError('empty')
  if (text.startsWith('{')) {
    let jwk: JsonWebKey
    try {
      jwk = JSON.parse(text) as JsonWebKey
    }
    catch {
      throw new SigningKeyError('not valid JSON')
    }
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new SigningKeyError('the JWK is not an Ed25519 (OKP) key')
    return jwk
  }
  const pem = pemBody(text)
  const tries: { format: 'pkcs8' | 'spki', der: Uint8Array<ArrayBuffer> }[] = []
  if (pem?.der) tries.push({ format: pem.label === 'PUBLIC KEY' ? 'spki' : 'pkcs8', der: pem.der })
  else if (!pem && /^[\w+/=-]+$/.test(text)) {
    const der = decoded(text)
    if (der) tries.push({ format: 'pkcs8', der }, { format: 'spki', der })
  }
  for (const t of tries) {
    try {
      const key = await crypto.subtle.importKey(t.format, t.der, ED25519, true, t.format === 'pkcs8' ? ['sign'] : ['verify'])
      return await crypto.subtle.exportKey('jwk', key) as JsonWebKey
    }
    catch { /* try the next form */ }
  }
  throw new SigningKeyError('not an Ed25519 key in PKCS#8 (PEM or base64), SPKI PEM or JWK form')
}

const signing = new Map<string, Promise<SigningKey>>()
const publics = new Map<string, Promise<PublicJwk>>()

/** The signing key (private) from TOKEN_SIGNING_KEY, imported once per isolate. */
export function signingKey(secret: string): Promise<SigningKey> {
  let k = signing.get(secret)
  if (!k) {
    k = (async () => {
      const jwk = await toJwk(secret)
      if (typeof jwk.d !== 'string') throw new SigningKeyError('TOKEN_SIGNING_KEY must be a private key')
      const publicJwk = await publicOf(jwk)
      // Re-imported without extractability: the private half never leaves WebCrypto again.
      const privateKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, ED25519, false, ['sign'])
      return { kid: publicJwk.kid, privateKey, publicJwk }
    })()
    k.catch(() => signing.delete(secret))
    signing.set(secret, k)
  }
  return k
}

/** The public JWK (with its kid) of any accepted key form, private or public. */
export function publicKeyOf(value: string): Promise<PublicJwk> {
  let k = publics.get(value)
  if (!k) {
    k = toJwk(value).then(publicOf)
    k.catch(() => publics.delete(value))
    publics.set(value, k)
  }
  return k
}

export interface SigningEnv { TOKEN_SIGNING_KEY?: string, TOKEN_SIGNING_KEY_PREVIOUS?: string }

/** The JWKS: the current key first, then the previous one during a rotation (docs/offline.md). */
export async function jwksOf(env: SigningEnv): Promise<{ keys: PublicJwk[] }> {
  if (!env.TOKEN_SIGNING_KEY) throw new SigningKeyError('TOKEN_SIGNING_KEY is not set')
  const keys = [(await signingKey(env.TOKEN_SIGNING_KEY)).publicJwk]
  if (env.TOKEN_SIGNING_KEY_PREVIOUS) {
    const previous = await publicKeyOf(env.TOKEN_SIGNING_KEY_PREVIOUS)
    if (previous.kid !== keys[0]!.kid) keys.push(previous)
  }
  return { keys }
}

/** A compact JWS over exactly these claims, header { alg: EdDSA, kid, typ: lm-license+jwt }. */
export async function signToken(key: SigningKey, claims: Record<string, unknown>): Promise<string> {
  return await new SignJWT(claims).setProtectedHeader({ alg: TOKEN_ALG, kid: key.kid, typ: TOKEN_TYPE }).sign(key.privateKey)
}
